//! Copies a header list less the names the gateway drops (`gatehouse_core::wire::headers`), in one call
//! into the runtime. Deleting each dropped name from a copy took a crossing from Wasm into the
//! runtime per name, 36 a request (22 toward the origin, 14 back), a tenth of the token path's
//! time in the profile (bench/results.md); the deletions below run in JavaScript. (Copying field by field instead,
//! through the `Headers` iterator, measured slower: the iterator sorts and combines.)
//!
//! Which names are dropped stays decided in Rust: the fixed lists are handed over once per
//! isolate, and the names a `Connection` header lists are handed over per request.

use std::cell::OnceCell;

use wasm_bindgen::prelude::*;
use worker::{Headers, Result};

#[wasm_bindgen(inline_js = r#"
export function name_set(names) {
  return names.split(",");
}
export function copy_without(headers, fixed, extra) {
  const out = new Headers(headers);
  for (const name of fixed) out.delete(name);
  if (extra) for (const name of extra.split(",")) out.delete(name);
  return out;
}
"#)]
extern "C" {
    fn name_set(names: &str) -> JsValue;
    #[wasm_bindgen(catch)]
    fn copy_without(
        headers: &worker::web_sys::Headers,
        fixed: &JsValue,
        extra: Option<String>,
    ) -> std::result::Result<worker::web_sys::Headers, JsValue>;
}

/// Which fixed list of names to drop.
#[derive(Clone, Copy)]
pub enum Toward {
    Origin,
    Client,
}

thread_local! {
    static TO_ORIGIN: OnceCell<JsValue> = const { OnceCell::new() };
    static TO_CLIENT: OnceCell<JsValue> = const { OnceCell::new() };
}

/// A copy of `headers` without the fixed names for `toward`, nor the names `connection` lists.
pub fn copy(headers: &Headers, toward: Toward, connection: Option<&str>) -> Result<Headers> {
    use gatehouse_core::wire::headers::{
        connection_tokens, dropped_toward_client, dropped_toward_origin,
    };
    let (cell, fixed) = match toward {
        Toward::Origin => (
            &TO_ORIGIN,
            dropped_toward_origin as fn(Option<&str>) -> Vec<String>,
        ),
        Toward::Client => (
            &TO_CLIENT,
            dropped_toward_client as fn(Option<&str>) -> Vec<String>,
        ),
    };
    let tokens = connection_tokens(connection);
    let extra = (!tokens.is_empty()).then(|| tokens.join(","));
    cell.with(|set| {
        let set = set.get_or_init(|| name_set(&fixed(None).join(",")));
        copy_without(&headers.0, set, extra)
            .map(Headers)
            .map_err(worker::Error::from)
    })
}
