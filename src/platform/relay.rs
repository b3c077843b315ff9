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
//! isolate; a `Connection` header's names and the values to set, per request, as a [`Toward`].
//! The values to set travel joined by line feeds, which no header name or value may hold: one
//! that does is refused here, as the runtime's `Headers` would refuse it. The runtime side is
//! `edge.mjs`, which the module entry's quick lane applies the same `Toward` with.

use std::cell::OnceCell;

use gatehouse_core::wire::headers::{
    connection_tokens, dropped_toward_client, dropped_toward_origin, SESSION_ID_HEADER,
};
use wasm_bindgen::prelude::*;
use worker::web_sys;

#[wasm_bindgen(module = "/src/platform/edge.mjs")]
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

/// What one direction's header work does beyond its fixed list of dropped names: the names to
/// drop (joined by commas) and the values to set on top (name and value, one per line).
pub struct Toward {
    pub extra: Option<String>,
    pub set: String,
}

/// The fixed lists of names dropped toward the origin and toward the client, joined by commas.
pub fn fixed_names() -> (String, String) {
    (
        dropped_toward_origin(None).join(","),
        dropped_toward_client(None).join(","),
    )
}

/// Toward the origin: the client's headers less the fixed names, those `connection` lists and
/// `also_drop`, with `set` on top.
pub fn origin_side(
    connection: Option<&str>,
    also_drop: Option<&str>,
    set: &[(&str, &str)],
) -> Result<Toward, Refused> {
    let mut extra = connection_tokens(connection);
    extra.extend(also_drop.map(str::to_string));
    Ok(Toward {
        extra: names(&extra),
        set: joined(set)?,
    })
}

/// Toward the client: the origin's headers less the fixed names, those its `connection` lists
/// and its session id, with `set` on top.
pub fn client_side(connection: Option<&str>, set: &[(&str, &str)]) -> Result<Toward, Refused> {
    let mut extra = connection_tokens(connection);
    // The origin's own session id never reaches the client, whatever `facts` read: the wrapped
    // one, if any, is in `set`.
    extra.push(SESSION_ID_HEADER.to_string());
    Ok(Toward {
        extra: names(&extra),
        set: joined(set)?,
    })
}

/// The headers the origin gets.
pub fn to_origin(incoming: &web_sys::Headers, t: Toward) -> Result<web_sys::Headers, Refused> {
    TO_ORIGIN.with(|cell| {
        let fixed = cell.get_or_init(|| name_set(&fixed_names().0));
        toward_origin(incoming, fixed, t.extra, &t.set).map_err(|_| Refused)
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
    read_facts(&origin_facts(response))
}

/// The origin's facts as `edge.mjs`'s `origin_facts` gives them.
pub fn read_facts(read: &str) -> OriginFacts {
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

/// The client's answer: the origin's status and body stream, with its headers as `t` says, less
/// `Retry-After` when `drop_retry_after`.
pub fn to_client(
    response: &web_sys::Response,
    t: Toward,
    drop_retry_after: bool,
) -> Result<web_sys::Response, Refused> {
    TO_CLIENT.with(|cell| {
        let fixed = cell.get_or_init(|| name_set(&fixed_names().1));
        toward_client(response, fixed, t.extra, drop_retry_after, &t.set).map_err(|_| Refused)
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
