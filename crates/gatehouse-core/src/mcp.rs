//! Reading MCP JSON-RPC requests (MCP Streamable HTTP, PROTOCOLS §4) for policy: which methods a
//! body calls and on what (`tools/call` and `prompts/get` name a tool or prompt, `resources/read`
//! a URI). A body may be one request or, in revision 2025-03-26, a batch. Size-capped.

use serde_json::Value;

/// A policy decision never needs more of a request than this.
pub const MAX_POLICY_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    /// Tool or prompt name, or resource URI.
    pub name: Option<String>,
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
        return Some(Call {
            method: String::new(),
            name: None,
        });
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
    fn non_json_rpc_is_none() {
        assert!(calls(b"not json").is_none());
        assert!(calls(b"42").is_none());
        assert!(calls(b"[1]").is_none());
        assert!(calls(&vec![b' '; MAX_POLICY_BODY + 1]).is_none());
    }
}
