//! The proxy's header work in the runtime, a call per direction (RFC 9110 §7.6.1 for the
//! hop-by-hop names; `gatehouse_core::wire::headers` for what the gateway drops and why).
//!
//! Toward the origin: a copy of the client's headers less the dropped names, with the gateway's
//! own set (the route's credential, the origin's session id). Toward the client: the origin's
//! answer as a new response over the same body stream, its headers less the dropped names, with
//! the gateway's set (the client's session id, the rate limits). Field by field from Wasm, that
//! was a crossing into the runtime per name (36 deletions a request), then the `worker` crate's
//! conversions of the answer in and out (bench/results.md).
//!
//! What is dropped and set stays decided in Rust: the fixed lists are handed over once per
//! isolate; a `Connection` header's names and the values to set, per request. The values to set
//! travel joined by line feeds, which no header name or value may hold: one that does is refused
//! here, as the runtime's `Headers` would refuse it.

use std::cell::OnceCell;

use gatehouse_core::wire::headers::SESSION_ID_HEADER;
use wasm_bindgen::prelude::*;
use worker::web_sys;

#[wasm_bindgen(inline_js = r#"
export function name_set(names) {
  return names.split(",");
}
function without(headers, fixed, extra) {
  const out = new Headers(headers);
  for (const name of fixed) out.delete(name);
  if (extra) for (const name of extra.split(",")) out.delete(name);
  return out;
}
function with_set(headers, set) {
  if (set) {
    const pairs = set.split("\n");
    for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  }
  return headers;
}
export function toward_origin(headers, fixed, extra, set) {
  return with_set(without(headers, fixed, extra), set);
}
export function origin_facts(response) {
  const h = response.headers;
  const session = h.get("mcp-session-id");
  return `${response.status}\n${h.get("connection") ?? ""}\n${session === null ? "" : "+" + session}`;
}
export function toward_client(response, fixed, extra, drop_retry_after, set) {
  const headers = without(response.headers, fixed, extra);
  if (drop_retry_after) headers.delete("retry-after");
  return new Response(response.body, { status: response.status, headers: with_set(headers, set) });
}
"#)]
extern "C" {
    fn name_set(names: &str) -> JsValue;
    #[wasm_bindgen(catch)]
    fn toward_origin(
        headers: &web_sys::Headers,
        fixed: &JsValue,
        extra: Option<String>,
        set: &str,
    ) -> Result<web_sys::Headers, JsValue>;
    fn origin_facts(response: &web_sys::Response) -> String;
    #[wasm_bindgen(catch)]
    fn toward_client(
        response: &web_sys::Response,
        fixed: &JsValue,
        extra: Option<String>,
        drop_retry_after: bool,
        set: &str,
    ) -> Result<web_sys::Response, JsValue>;
}

thread_local! {
    static TO_ORIGIN: OnceCell<JsValue> = const { OnceCell::new() };
    static TO_CLIENT: OnceCell<JsValue> = const { OnceCell::new() };
}

/// A header list could not be built (a value the runtime refuses).
#[derive(Debug)]
pub struct Refused;

/// The headers the origin gets: the client's, less the names the gateway drops toward the origin,
/// those `connection` lists and `also_drop`, with `set` on top.
pub fn to_origin(
    incoming: &web_sys::Headers,
    connection: Option<&str>,
    also_drop: Option<&str>,
    set: &[(&str, &str)],
) -> Result<web_sys::Headers, Refused> {
    use gatehouse_core::wire::headers::dropped_toward_origin;
    let mut extra = gatehouse_core::wire::headers::connection_tokens(connection);
    extra.extend(also_drop.map(str::to_string));
    let set = joined(set)?;
    TO_ORIGIN.with(|cell| {
        let fixed = cell.get_or_init(|| name_set(&dropped_toward_origin(None).join(",")));
        toward_origin(incoming, fixed, names(&extra), &set).map_err(|_| Refused)
    })
}

/// What the gateway reads of the origin's answer before relaying it.
pub struct OriginFacts {
    pub status: u16,
    pub connection: Option<String>,
    /// The origin's session id, if it sent one.
    pub session: Option<String>,
}

/// The origin's status, `Connection` and session id, in one call.
pub fn facts(response: &web_sys::Response) -> OriginFacts {
    let read = origin_facts(response);
    let mut parts = read.splitn(3, '\n');
    let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let connection = parts.next().filter(|c| !c.is_empty()).map(str::to_string);
    let session = parts
        .next()
        .and_then(|s| s.strip_prefix('+'))
        .map(str::to_string);
    OriginFacts {
        status,
        connection,
        session,
    }
}

/// The client's answer: the origin's status and body stream, its headers less the names the
/// gateway drops toward the client, those its `connection` lists and its session id, less
/// `Retry-After` when `drop_retry_after`, with `set` on top.
pub fn to_client(
    response: &web_sys::Response,
    connection: Option<&str>,
    drop_retry_after: bool,
    set: &[(&str, &str)],
) -> Result<web_sys::Response, Refused> {
    use gatehouse_core::wire::headers::{connection_tokens, dropped_toward_client};
    let mut extra = connection_tokens(connection);
    // The origin's own session id never reaches the client, whatever `facts` read: the wrapped
    // one, if any, is in `set`.
    extra.push(SESSION_ID_HEADER.to_string());
    let set = joined(set)?;
    TO_CLIENT.with(|cell| {
        let fixed = cell.get_or_init(|| name_set(&dropped_toward_client(None).join(",")));
        toward_client(response, fixed, names(&extra), drop_retry_after, &set).map_err(|_| Refused)
    })
}

fn names(extra: &[String]) -> Option<String> {
    (!extra.is_empty()).then(|| extra.join(","))
}

/// `set` as the runtime side reads it: name, value, name, value, one per line.
fn joined(set: &[(&str, &str)]) -> Result<String, Refused> {
    let mut out = String::new();
    for (name, value) in set {
        // As `Headers.set` would: a value's leading and trailing HTTP whitespace is not its own.
        let value = value.trim_matches([' ', '\t', '\r', '\n']);
        if name.contains(['\n', '\r']) || value.contains(['\n', '\r']) {
            return Err(Refused);
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(name);
        out.push('\n');
        out.push_str(value);
    }
    Ok(out)
}
