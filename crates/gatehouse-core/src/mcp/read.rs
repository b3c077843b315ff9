//! The gateway's one reading of an MCP POST body (docs/PROTOCOL.md §4, "Body rules"): an
//! `application/json` body, read by `json_strict`, that is one JSON-RPC 2.0 message or a
//! non-empty batch of them (JSON-RPC 2.0 §4–§6; MCP basic protocol, `RequestId` is a string or a
//! number). A body the gateway cannot read this way is refused rather than forwarded: what the
//! gateway cannot read it cannot price, authorize or audit, and what it forwards must be what it
//! decided on. A call that names a tool, prompt or resource must name it with a string.

use serde_json::{Map, Value};

use super::revision::REVISION_META_KEY;
use super::{Call, MAX_POLICY_BODY};
use crate::wire::json_strict::{self, JsonRejection};

/// Why a POST body is refused. `denial.rs` maps each to the wire: 415, 413, or 400 with a
/// JSON-RPC error (-32700 for `Json`, -32600 for `Rpc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRejection {
    /// Not `application/json`, or a charset other than UTF-8.
    UnsupportedMediaType,
    /// A `Content-Encoding` other than `identity`: the origin would decode bytes the gateway
    /// judged as they were, and read something else (a compressed body can hide another).
    ContentEncoding,
    TooLarge,
    Json(JsonRejection),
    Rpc(RpcRejection),
}

/// How a well-formed JSON body fails to be JSON-RPC the gateway can decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcRejection {
    /// The body is neither an object nor an array.
    NotAMessage,
    EmptyBatch,
    /// A batch item that is not an object.
    ItemNotAnObject,
    /// No `"jsonrpc":"2.0"`.
    Version,
    /// `method` present but not a string.
    Method,
    /// `params` present but neither an object nor an array.
    Params,
    /// `id` neither a string, null, nor an integer both JavaScript and Python read exactly.
    Id,
    /// A message without `method` that is not a response (`id` and exactly one of
    /// `result`/`error`, an object).
    NotAResponse,
    /// `tools/call` or `prompts/get` without a string `params.name`.
    Name,
    /// `resources/read` without a string `params.uri`, or `/subscribe` or `/unsubscribe` with a
    /// `params.uri` that is not a string.
    Uri,
    /// A resource URI not in canonical form, which the origin could read as another URI than
    /// the one the gateway priced (`TEST://x` for `test://x`, `a/../b`, `%61`, spaces).
    NonCanonicalUri,
}

impl BodyRejection {
    /// The reason, for the error's `data` and the operator's log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ContentEncoding => "content_encoding",
            Self::TooLarge => "too_large",
            Self::Json(j) => j.as_str(),
            Self::Rpc(r) => r.as_str(),
        }
    }
}

impl RpcRejection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotAMessage => "not_a_message",
            Self::EmptyBatch => "empty_batch",
            Self::ItemNotAnObject => "item_not_an_object",
            Self::Version => "jsonrpc_version",
            Self::Method => "method_not_a_string",
            Self::Params => "params_not_structured",
            Self::Id => "invalid_id",
            Self::NotAResponse => "not_a_response",
            Self::Name => "missing_name",
            Self::Uri => "missing_uri",
            Self::NonCanonicalUri => "non_canonical_uri",
        }
    }
}

/// The largest integer both a double (JavaScript) and an arbitrary-precision reader (Python)
/// hold exactly: an id beyond it would be echoed back as a different id.
const MAX_SAFE_ID: u64 = (1 << 53) - 1;

/// An MCP POST must be `application/json` (MCP Streamable HTTP): compared case-insensitively,
/// parameters allowed, but a charset other than UTF-8 is refused, because an origin that honours
/// it would decode other characters from the same bytes.
pub fn check_media_type(content_type: Option<&str>) -> Result<(), BodyRejection> {
    let mut parts = content_type.unwrap_or_default().split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let utf8 = |p: &str| {
        let Some((name, value)) = p.split_once('=') else {
            return true;
        };
        let value = value.trim().trim_matches('"');
        !name.trim().eq_ignore_ascii_case("charset")
            || value.eq_ignore_ascii_case("utf-8")
            || value.eq_ignore_ascii_case("utf8")
    };
    if essence.eq_ignore_ascii_case("application/json") && parts.all(utf8) {
        Ok(())
    } else {
        Err(BodyRejection::UnsupportedMediaType)
    }
}

/// A POST body is judged as the bytes arrive, so it must arrive unencoded.
pub fn check_content_encoding(content_encoding: Option<&str>) -> Result<(), BodyRejection> {
    let identity = content_encoding
        .unwrap_or("identity")
        .split(',')
        .all(|c| c.trim().eq_ignore_ascii_case("identity"));
    if identity {
        Ok(())
    } else {
        Err(BodyRejection::ContentEncoding)
    }
}

/// The calls in a POST body, in order, or why it is refused.
pub fn calls(body: &[u8]) -> Result<Vec<Call>, BodyRejection> {
    if body.len() > MAX_POLICY_BODY {
        return Err(BodyRejection::TooLarge);
    }
    let value = json_strict::parse(body).map_err(BodyRejection::Json)?;
    let items = match value {
        Value::Array(items) if items.is_empty() => Err(RpcRejection::EmptyBatch),
        Value::Array(items) => Ok(items),
        single @ Value::Object(_) => Ok(vec![single]),
        _ => Err(RpcRejection::NotAMessage),
    };
    items
        .and_then(|items| items.iter().map(call).collect())
        .map_err(BodyRejection::Rpc)
}

fn call(item: &Value) -> Result<Call, RpcRejection> {
    let obj = item.as_object().ok_or(RpcRejection::ItemNotAnObject)?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcRejection::Version);
    }
    let id = obj.get("id");
    if id.is_some_and(|id| !valid_id(id)) {
        return Err(RpcRejection::Id);
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(RpcRejection::Method),
        // A response to a request the server sent: it calls nothing.
        None => return response(obj).map(|()| Call::default()),
    };
    let params = obj.get("params");
    if params.is_some_and(|p| !p.is_object() && !p.is_array()) {
        return Err(RpcRejection::Params);
    }
    let named = |field: &str, missing: RpcRejection| {
        params
            .and_then(|p| p.get(field))
            .and_then(Value::as_str)
            .map(|n| Some(n.to_string()))
            .ok_or(missing)
    };
    let name = match method.as_str() {
        "tools/call" | "prompts/get" => named("name", RpcRejection::Name)?,
        "resources/read" => canonical(named("uri", RpcRejection::Uri)?)?,
        // No rule prices these by their URI; one given must still be canonical. Without one
        // they go to the origin, which answers them: MCP 2026-07-28 removed both methods, and
        // its servers answer "method not found".
        "resources/subscribe" | "resources/unsubscribe" => {
            match params.and_then(|p| p.get("uri")) {
                None => None,
                Some(_) => canonical(named("uri", RpcRejection::Uri)?)?,
            }
        }
        _ => None,
    };
    Ok(Call {
        method: method.clone(),
        name,
        id: id.cloned(),
        arguments: params.and_then(|p| p.get("arguments")).cloned(),
        revision: params
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(REVISION_META_KEY))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn canonical(uri: Option<String>) -> Result<Option<String>, RpcRejection> {
    match uri {
        Some(u) if is_canonical_uri(&u) => Ok(Some(u)),
        _ => Err(RpcRejection::NonCanonicalUri),
    }
}

/// Schemes the WHATWG URL standard treats specially, with their default ports (`file` has none).
const SPECIAL: [(&str, Option<&str>); 6] = [
    ("http", Some("80")),
    ("https", Some("443")),
    ("ws", Some("80")),
    ("wss", Some("443")),
    ("ftp", Some("21")),
    ("file", None),
];

/// Whether `uri` is already in the form URL parsers normalize to (RFC 3986 §6.2.2, WHATWG URL),
/// so that a cost rule or limit matched against it is matched against what the origin reads.
/// Rather than normalize, the gateway refuses every spelling a parser would rewrite: anything
/// but printable ASCII; a scheme with capitals; user information, an empty port, a port with a
/// leading zero or the scheme's default; a host with capitals, an IP literal other than a
/// canonical dotted quad, or `localhost` for `file`; a special scheme without `//` or without a
/// path; dot segments; and escapes of unreserved characters or with lowercase hex.
pub fn is_canonical_uri(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    if !bytes
        .iter()
        .all(|b| (0x21..0x7f).contains(b) && *b != b'\\')
    {
        return false;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    if !scheme_ok {
        return false;
    }
    let special = SPECIAL.iter().find(|(s, _)| *s == scheme);
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            if !authority_ok(&after[..end], scheme, special.map(|(_, p)| *p)) {
                return false;
            }
            &after[end..]
        }
        None if special.is_some() => return false,
        None => rest,
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    if special.is_some() && !path.starts_with('/') {
        return false;
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return false;
    }
    uri.match_indices('%').all(|(i, _)| {
        let hex = bytes.get(i + 1..i + 3).unwrap_or(&[]);
        let upper = hex.len() == 2
            && hex
                .iter()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b));
        upper && {
            let v = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16).unwrap_or(0);
            !(v.is_ascii_alphanumeric() || b"-._~".contains(&v))
        }
    })
}

/// `host[:port]` with nothing a parser would rewrite.
/// `special` is the scheme's default port, when the scheme is a special one.
fn authority_ok(authority: &str, scheme: &str, special: Option<Option<&str>>) -> bool {
    let default_port = special.flatten();
    if authority.contains(['@', '[', ']']) {
        return false;
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if let Some(p) = port {
        let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits || p.starts_with('0') || Some(p) == default_port {
            return false;
        }
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) || (scheme == "file" && host == "localhost") {
        return false;
    }
    // A special scheme's host that a parser reads as an IPv4 address must already be written as
    // one canonically (other schemes' hosts are opaque to it).
    let numeric = special.is_some()
        && host.ends_with(|c: char| c.is_ascii_digit())
        && host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x');
    !numeric || {
        let parts: Vec<&str> = host.split('.').collect();
        parts.len() == 4
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p.len() == 1 || !p.starts_with('0'))
                    && p.parse::<u8>().is_ok()
            })
    }
}

fn response(obj: &Map<String, Value>) -> Result<(), RpcRejection> {
    let result = obj.contains_key("result");
    let error = obj.get("error");
    let one_outcome = match error {
        Some(e) => !result && e.is_object(),
        None => result,
    };
    if one_outcome && obj.contains_key("id") {
        Ok(())
    } else {
        Err(RpcRejection::NotAResponse)
    }
}

fn valid_id(id: &Value) -> bool {
    match id {
        Value::String(_) | Value::Null => true,
        // Written as an integer (serde_json reads a fraction or an exponent as a double).
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_i64().map(i64::unsigned_abs))
            .is_some_and(|m| m <= MAX_SAFE_ID),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
