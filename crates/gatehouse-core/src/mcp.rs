//! Reading MCP JSON-RPC requests (MCP Streamable HTTP, docs/PROTOCOL.md §4) for policy: which methods a
//! body calls and on what (`tools/call` and `prompts/get` name a tool or prompt, `resources/read`
//! a URI). A body may be one request or, in revision 2025-03-26, a batch. Size-capped. `read`
//! holds the one reading of a body that everything here, and the shell, decides on.

pub mod cache;
mod in_band;
mod read;
pub mod revision;
pub mod splice;

use serde_json::Value;

use crate::wire::json_strict;
pub use read::{calls, check_content_encoding, check_media_type, BodyRejection, RpcRejection};

/// A policy decision never needs more of a request than this.
pub const MAX_POLICY_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Call {
    pub method: String,
    /// Tool or prompt name, or resource URI.
    pub name: Option<String>,
    /// The JSON-RPC id; `None` for a notification.
    pub id: Option<Value>,
    /// Tool arguments, for the audit trail.
    pub arguments: Option<Value>,
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]` (MCP 2026-07-28), if a string.
    pub revision: Option<String>,
}

/// Whether a body the gateway accepted is a JSON-RPC batch (an array), so that an in-band answer
/// can keep the request's shape. The strict reading refused anything before the value but JSON
/// whitespace.
pub fn is_batch(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'[')
}

/// Tools called by the body, in order.
pub fn tool_names(calls: &[Call]) -> Vec<&str> {
    calls
        .iter()
        .filter(|c| c.method == "tools/call")
        .filter_map(|c| c.name.as_deref())
        .collect()
}

/// The `Mcp-Method`/`Mcp-Name` headers of revision 2026-07-28 must say what the body says; an
/// intermediary that enforced policy on the headers alone could be lied to. `Err` carries the id
/// to answer with JSON-RPC error -32020.
pub fn check_headers(
    method: Option<&str>,
    name: Option<&str>,
    calls: Option<&[Call]>,
) -> Result<(), Option<Value>> {
    if method.is_none() && name.is_none() {
        return Ok(());
    }
    let single = match calls {
        Some([one]) => one,
        _ => return Err(None),
    };
    let id = single.id.clone();
    // MCP 2026-07-28 defines `Mcp-Name` for these three methods only; for any other an
    // extension may use it (the tasks extension sends a task id), and the gateway reads no name
    // from those to decide on, so it has nothing to compare.
    let named = matches!(
        single.method.as_str(),
        "tools/call" | "resources/read" | "prompts/get"
    );
    if method.is_some_and(|m| m != single.method)
        || (named && name.is_some_and(|n| Some(n) != single.name.as_deref()))
    {
        return Err(id);
    }
    Ok(())
}

pub const IN_BAND_TOKEN_KEY: &str = "gatehouse/access_token";

/// Removes `params._meta["gatehouse/access_token"]` from every call and returns the first such
/// token: the way a client that cannot set headers hands back the token an in-band challenge
/// bought. The token must never reach the origin, so its bytes are cut out of the body, and
/// every other byte reaches the origin as the client sent it (`mcp/in_band.rs`).
pub fn take_in_band_token(body: &[u8]) -> Option<(String, Vec<u8>)> {
    let (token, rest) = take_meta_member(body, IN_BAND_TOKEN_KEY, Value::is_string)?;
    Some((token.as_str().unwrap_or_default().to_string(), rest))
}

/// The `_meta` key of an x402 payment carried inside MCP (coinbase/x402
/// `specs/transports-v2/mcp.md`), and of its settlement in the result.
pub const X402_PAYMENT_META_KEY: &str = "x402/payment";
pub const X402_PAYMENT_RESPONSE_META_KEY: &str = "x402/payment-response";

/// An x402 payment in a request's `params._meta["x402/payment"]`, as an object or as the base64
/// string some clients send, and the body without it (cut from every message, so it never
/// reaches the origin).
pub fn take_x402_payment(body: &[u8]) -> Option<(Value, Vec<u8>)> {
    take_meta_member(body, X402_PAYMENT_META_KEY, |_| true)
}

/// Takes the `_meta` member `key` out of every message of a body the gateway reads strictly, and
/// returns its first value: how a credential carried inside MCP is kept from the origin.
pub fn take_meta_member(
    body: &[u8],
    key: &str,
    accept: fn(&Value) -> bool,
) -> Option<(Value, Vec<u8>)> {
    // Only a body the gateway reads strictly is cut (`in_band` assumes well-formed JSON).
    json_strict::parse(body).ok()?;
    in_band::cut_meta_member(body, key, accept)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_batch_is_an_array_after_json_whitespace() {
        assert!(super::is_batch(b" \r\n\t[{}]"));
        assert!(!super::is_batch(b"{}"));
        assert!(
            !super::is_batch(b"\x0c[]"),
            "a form feed is not JSON whitespace"
        );
        assert!(!super::is_batch(b""));
    }

    use super::*;

    #[test]
    fn a_single_tool_call_names_its_tool() {
        let c = calls(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#).unwrap();
        assert_eq!(tool_names(&c), ["echo"]);
    }

    #[test]
    fn a_batch_names_every_call() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},
                        {"jsonrpc":"2.0","method":"notifications/initialized"},
                        {"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///x"}},
                        {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
        let c = calls(body).unwrap();
        assert_eq!(tool_names(&c), ["a", "b"]);
        assert_eq!(c[2].name.as_deref(), Some("file:///x"));
    }

    #[test]
    fn headers_must_agree_with_the_body() {
        let c =
            calls(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}"#)
                .unwrap();
        assert_eq!(
            check_headers(Some("tools/call"), Some("echo"), Some(&c)),
            Ok(())
        );
        assert_eq!(check_headers(None, None, Some(&c)), Ok(()));
        assert_eq!(
            check_headers(Some("tools/call"), Some("rm"), Some(&c)),
            Err(Some(serde_json::json!(7)))
        );
        assert_eq!(
            check_headers(Some("tools/list"), None, Some(&c)),
            Err(Some(serde_json::json!(7)))
        );
        assert_eq!(check_headers(Some("tools/call"), None, None), Err(None));
        // An extension's `Mcp-Name` (the tasks extension's task id) names nothing the gateway
        // reads; the method must still agree.
        let task =
            calls(br#"{"jsonrpc":"2.0","id":8,"method":"tasks/get","params":{"taskId":"t-1"}}"#)
                .unwrap();
        assert_eq!(
            check_headers(Some("tasks/get"), Some("t-1"), Some(&task)),
            Ok(())
        );
        assert_eq!(
            check_headers(Some("tools/call"), Some("t-1"), Some(&task)),
            Err(Some(serde_json::json!(8)))
        );
    }

    #[test]
    fn an_in_band_token_is_taken_out_of_the_body() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"gatehouse/access_token":"tok","progressToken":3}}}"#;
        let (token, rest) = take_in_band_token(body).unwrap();
        assert_eq!(token, "tok");
        let rest: Value = serde_json::from_slice(&rest).unwrap();
        assert_eq!(
            rest["params"]["_meta"],
            serde_json::json!({"progressToken": 3})
        );
        assert!(take_in_band_token(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).is_none());
    }

    #[test]
    fn an_in_band_token_is_looked_for_only_in_a_body_the_gateway_reads() {
        // serde_json would keep the last `params`; the strict reading keeps neither.
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"gatehouse/access_token":"tok"}},"params":{"name":"rm"}}"#;
        assert!(take_in_band_token(body).is_none());
        let lone = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"gatehouse/access_token":"tok","x":"\ud800"}}}"#;
        assert!(take_in_band_token(lone).is_none());
    }
}
