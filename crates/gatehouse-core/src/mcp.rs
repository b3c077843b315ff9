//! Reading MCP JSON-RPC requests (MCP Streamable HTTP, docs/PROTOCOL.md §4) for policy: which methods a
//! body calls and on what (`tools/call` and `prompts/get` name a tool or prompt, `resources/read`
//! a URI). A body may be one request or, in revision 2025-03-26, a batch. Size-capped.

use serde_json::Value;

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
}

/// The calls in a JSON-RPC body; `None` when it is not JSON-RPC at all.
pub fn calls(body: &[u8]) -> Option<Vec<Call>> {
    if body.len() > MAX_POLICY_BODY {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let items = match value {
        Value::Array(items) => items,
        single @ Value::Object(_) => vec![single],
        _ => return None,
    };
    items.iter().map(call).collect()
}

fn call(item: &Value) -> Option<Call> {
    let obj = item.as_object()?;
    // Responses (to server requests) and notifications without a method carry no call.
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return Some(Call::default());
    };
    let params = obj.get("params");
    let field = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
        _ => "",
    };
    let name = params
        .and_then(|p| p.get(field))
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(Call {
        method: method.to_string(),
        name,
        id: obj.get("id").cloned(),
        arguments: params.and_then(|p| p.get("arguments")).cloned(),
    })
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
    if method.is_some_and(|m| m != single.method)
        || name.is_some_and(|n| Some(n) != single.name.as_deref())
    {
        return Err(id);
    }
    Ok(())
}

/// Removes `params._meta["gatehouse/access_token"]` from every call and returns the first such
/// token: the way a client that cannot set headers hands back the token an in-band challenge
/// bought. The token must never reach the origin, so the body is rewritten without it.
pub const IN_BAND_TOKEN_KEY: &str = "gatehouse/access_token";

pub fn take_in_band_token(body: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let mut found = None;
    let mut strip = |item: &mut Value| {
        if let Some(meta) = item
            .get_mut("params")
            .and_then(|p| p.get_mut("_meta"))
            .and_then(Value::as_object_mut)
        {
            if let Some(Value::String(t)) = meta.remove(IN_BAND_TOKEN_KEY) {
                found.get_or_insert(t);
            }
        }
    };
    match &mut value {
        Value::Array(items) => items.iter_mut().for_each(&mut strip),
        item => strip(item),
    }
    let token = found?;
    Some((token, serde_json::to_vec(&value).ok()?))
}

#[cfg(test)]
mod tests {
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
    fn non_json_rpc_is_none() {
        assert!(calls(b"not json").is_none());
        assert!(calls(b"42").is_none());
        assert!(calls(b"[1]").is_none());
        assert!(calls(&vec![b' '; MAX_POLICY_BODY + 1]).is_none());
    }
}
