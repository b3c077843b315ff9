//! Public list results served from the edge (MCP 2026-07-28, "Caching"; SEP-2549). An origin
//! that marks a list result `cacheScope: "public"` with a positive `ttlMs` says it is the same for
//! every caller for that long; the gateway then answers repeats of the same request from the
//! Workers Cache API, and the origin is asked once per TTL.
//!
//! - Only the four list methods, only under 2026-07-28 (no earlier revision has the hints), only
//!   a single request with an id, and never one that carries `requestState` or `inputResponses`
//!   (a retried multi-round-trip request depends on inputs that are not part of the key).
//! - The key is the route, the method, the revision and the request's `params` without `_meta`
//!   (which carries per-request hints, not what selects the result), in one canonical form: a
//!   cursor selects a page, and two routes never share an entry.
//! - Only a result that says `resultType: "complete"`, `cacheScope: "public"` and a whole `ttlMs`
//!   above zero is kept, for at most [`MAX_TTL_MS`] and never past its own `ttlMs`; a private
//!   result, an error, another id or anything the gateway cannot read is never kept.
//! - What is kept is the origin's own bytes of the `result` member, cut out, never re-serialized;
//!   a hit answers with them under the request's own id.
//! - A cached answer is admitted, counted and audited like any other: the cache sits between the
//!   admission and the origin.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::in_band::{find, members, ws};
use super::revision::Revision;
use super::Call;
use crate::wire::bytes::to_hex;

/// The methods whose results the gateway keeps when they are public.
pub const CACHEABLE: [&str; 4] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
];
/// The longest an answer is kept, whatever `ttlMs` says.
pub const MAX_TTL_MS: u64 = 3_600_000;
/// The largest result kept: a list past this is served from the origin every time.
pub const MAX_CACHED_RESULT: usize = 256 * 1024;

/// The cache key of a request whose answer may come from the cache: a URL (the Cache API keys
/// by URL) naming the hash of route, method, revision and canonical params.
pub fn request_key(
    route: &str,
    body: &[u8],
    calls: &[Call],
    batch: bool,
    revision: Revision,
) -> Option<String> {
    let [call] = calls else { return None };
    if batch || call.id.is_none() || revision != Revision::V2026_07_28 {
        return None;
    }
    if !CACHEABLE.contains(&call.method.as_str()) {
        return None;
    }
    let message: Value = serde_json::from_slice(body).ok()?;
    let mut params = match message.get("params") {
        None => serde_json::Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return None,
    };
    if params.contains_key("requestState") || params.contains_key("inputResponses") {
        return None;
    }
    params.remove("_meta");
    // Keys sorted (serde_json's map is ordered by key), no whitespace: one spelling per params.
    let canonical = Value::Object(params).to_string();
    let input = format!("{route}\n{}\n2026-07-28\n{canonical}", call.method);
    let hash = to_hex(&Sha256::digest(input.as_bytes()));
    Some(format!("https://list-cache.gatehouse.invalid/v1/{hash}"))
}

/// A result the gateway may keep: the origin's bytes of it, and for how long, in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keepable {
    pub result: Vec<u8>,
    pub ttl_ms: u64,
}

/// Whether the origin's JSON answer to request `id` is a public, complete result with a TTL.
pub fn keepable(body: &[u8], id: &Value) -> Option<Keepable> {
    if body.len() > MAX_CACHED_RESULT {
        return None;
    }
    let parsed: Value = serde_json::from_slice(body).ok()?;
    let result = parsed.get("result").filter(|r| r.is_object())?;
    let complete = result.get("resultType").and_then(Value::as_str) == Some("complete");
    let public = result.get("cacheScope").and_then(Value::as_str) == Some("public");
    let ttl_ms = result
        .get("ttlMs")
        .and_then(Value::as_u64)
        .filter(|t| *t > 0)?;
    let is_answer = parsed.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && parsed.get("id") == Some(id)
        && parsed.get("error").is_none();
    if !(complete && public && is_answer) {
        return None;
    }
    let start = ws(body, 0);
    let span = find(&members(body, start)?, "result")?.value;
    Some(Keepable {
        result: body[span.0..span.1].to_vec(),
        ttl_ms: ttl_ms.min(MAX_TTL_MS),
    })
}

/// The answer to request `id` from a kept result.
pub fn answer(result: &[u8], id: &Value) -> Vec<u8> {
    let mut out = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":").into_bytes();
    out.extend_from_slice(result);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests;
