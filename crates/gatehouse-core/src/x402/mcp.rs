//! x402 carried inside MCP (coinbase/x402 `specs/transports-v2/mcp.md`): the payment in a
//! `tools/call`'s `params._meta["x402/payment"]`, its settlement in the result's
//! `_meta["x402/payment-response"]`, and a refused payment told as a tool result with
//! `isError: true` whose `structuredContent` is the `PaymentRequired` object again.
//!
//! The payment is a `PaymentPayload` object, or (as Cloudflare's `agents/x402` sends it) the
//! same JSON in base64, as in the HTTP header. Either way it is judged exactly as on HTTP
//! (`payload::check`); only where it travels differs.

use serde_json::Value;

use super::payload::{self, MAX_SIGNATURE_HEADER};
use super::{Refusal, Rejection};
use crate::json_object::object;
use crate::mcp::revision::Revision;
use crate::mcp::X402_PAYMENT_RESPONSE_META_KEY;

/// The `PaymentPayload` JSON object of a payment found in `_meta`.
pub fn payload_from_meta(value: &Value) -> Result<Value, Rejection> {
    match value {
        Value::String(b64) => payload::decode(b64),
        Value::Object(_) if value.to_string().len() <= MAX_SIGNATURE_HEADER => Ok(value.clone()),
        Value::Object(_) => Err(Rejection::Malformed("x402/payment is too long")),
        _ => Err(Rejection::Malformed("x402/payment is not a PaymentPayload")),
    }
}

/// Where a refusal goes back inside MCP: the request's id and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InBandReply {
    pub id: Value,
    pub revision: Revision,
}

/// The JSON-RPC response that tells `refusal` inside MCP: a tool result with `isError: true`,
/// its `PaymentRequired` (the reason as its `error`, a failed settlement beside it) in
/// `structuredContent` and, wrapped, in `content[0].text`.
pub fn refusal_response(refusal: &Refusal, reply: &InBandReply) -> Value {
    let code = refusal.rejection.code();
    let mut required = match &refusal.offer {
        Some(offer) => offer.payment_required(Some(code)),
        None => object([
            ("x402Version", super::X402_VERSION.into()),
            ("error", code.into()),
            ("accepts", Vec::<Value>::new().into()),
        ]),
    };
    if let (Some(settlement), Some(o)) = (&refusal.settlement, required.as_object_mut()) {
        o.insert(X402_PAYMENT_RESPONSE_META_KEY.into(), settlement.clone());
    }
    let wrapper = object([(
        "x402/error",
        object([
            ("code", 402.into()),
            ("message", refusal.rejection.message().into()),
            ("data", required.clone()),
        ]),
    )]);
    let mut result = object([
        ("isError", true.into()),
        (
            "content",
            vec![object([
                ("type", "text".into()),
                ("text", wrapper.to_string().into()),
            ])]
            .into(),
        ),
        ("structuredContent", required),
    ]);
    if let (true, Some(o)) = (reply.revision.typed_results(), result.as_object_mut()) {
        o.insert("resultType".into(), "complete".into());
    }
    object([
        ("jsonrpc", "2.0".into()),
        ("id", reply.id.clone()),
        ("result", result),
    ])
}

/// The origin's answer with `settlement` in the `_meta` of the result for request `id`: a JSON
/// body, or the SSE event that carries that response. `None` when no such result is there (an
/// error, another id, a body it cannot read), and the answer is served as it came.
pub fn with_settlement(body: &[u8], sse: bool, id: &Value, settlement: &Value) -> Option<Vec<u8>> {
    if !sse {
        let mut message: Value = serde_json::from_slice(body).ok()?;
        add_settlement(&mut message, id, settlement)?;
        return Some(message.to_string().into_bytes());
    }
    // SSE (WHATWG HTML §9.2): events are separated by blank lines; a `data:` line of one event
    // holds one JSON-RPC message in MCP's Streamable HTTP. The event with the response is
    // rewritten as one `data:` line; every other byte stays as it came.
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len() + 256);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        if let (false, Some(data)) = (done, content.strip_prefix("data:")) {
            if let Ok(mut message) = serde_json::from_str::<Value>(data.trim_start()) {
                if add_settlement(&mut message, id, settlement).is_some() {
                    out.push_str("data: ");
                    out.push_str(&message.to_string());
                    out.push_str(ending);
                    done = true;
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    done.then(|| out.into_bytes())
}

fn add_settlement(message: &mut Value, id: &Value, settlement: &Value) -> Option<()> {
    if message.get("id") != Some(id) {
        return None;
    }
    let result = message.get_mut("result")?.as_object_mut()?;
    let meta = result
        .entry("_meta")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()?;
    meta.insert(X402_PAYMENT_RESPONSE_META_KEY.into(), settlement.clone());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_payment_is_an_object_or_its_base64() {
        let p = json!({"x402Version": 2, "payload": {}});
        assert_eq!(payload_from_meta(&p), Ok(p.clone()));
        let b64 = crate::x402::encode(&p);
        assert_eq!(payload_from_meta(&Value::String(b64)), Ok(p));
        for bad in [
            json!(7),
            json!([1]),
            json!("not base64!"),
            json!({"k": "x".repeat(9_000)}),
        ] {
            assert!(payload_from_meta(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_settlement_goes_in_the_result_of_the_paid_call_only() {
        let s = json!({"success": true, "transaction": "0xab"});
        let id = json!(3);
        let body = br#"{"jsonrpc":"2.0","id":3,"result":{"content":[]}}"#;
        let out: Value =
            serde_json::from_slice(&with_settlement(body, false, &id, &s).unwrap()).unwrap();
        assert_eq!(out["result"]["_meta"]["x402/payment-response"], s);
        assert!(
            with_settlement(br#"{"jsonrpc":"2.0","id":4,"result":{}}"#, false, &id, &s).is_none()
        );
        assert!(
            with_settlement(br#"{"jsonrpc":"2.0","id":3,"error":{}}"#, false, &id, &s).is_none()
        );
        let sse = "event: message\r\nid: 9\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"_meta\":{\"k\":1}}}\r\n\r\n";
        let out =
            String::from_utf8(with_settlement(sse.as_bytes(), true, &id, &s).unwrap()).unwrap();
        assert!(out.starts_with("event: message\r\nid: 9\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"));
        let last = out.lines().find(|l| l.contains("\"id\":3")).unwrap();
        let message: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(
            message["result"]["_meta"],
            json!({"k": 1, "x402/payment-response": s})
        );
        assert!(out.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_refusal_inside_mcp_is_an_is_error_result_with_the_requirement() {
        let refusal = Refusal {
            rejection: Rejection::Replayed,
            offer: None,
            settlement: Some(json!({"success": false})),
            in_band: None,
        };
        let reply = InBandReply {
            id: json!("a"),
            revision: Revision::V2026_07_28,
        };
        let r = refusal_response(&refusal, &reply);
        assert_eq!(r["id"], "a");
        assert_eq!(r["result"]["isError"], true);
        assert_eq!(r["result"]["resultType"], "complete");
        assert_eq!(
            r["result"]["structuredContent"]["error"],
            Rejection::Replayed.code()
        );
        assert_eq!(
            r["result"]["structuredContent"]["x402/payment-response"]["success"],
            false
        );
        let text: Value =
            serde_json::from_str(r["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(text["x402/error"]["code"], 402);
    }
}
