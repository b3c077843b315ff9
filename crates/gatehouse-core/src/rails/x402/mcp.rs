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
use crate::mcp::revision::Revision;
use crate::mcp::splice::add_to_result_meta;
use crate::mcp::X402_PAYMENT_RESPONSE_META_KEY;
use crate::wire::json_object::object;

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

/// A JSON answer with `settlement` in the `_meta` of the result for request `id` under `key`
/// (`x402/payment-response`, or MPP's `org.paymentauth/receipt`), spliced into the origin's
/// bytes (`mcp::splice`); `None` when no such result is there (an error, another id, a body it
/// cannot read), and the answer is served as it came.
pub fn json_with_settlement(
    body: &[u8],
    id: &Value,
    key: &str,
    settlement: &Value,
) -> Option<Vec<u8>> {
    add_to_result_meta(body, id, key, settlement)
}

/// The most of one SSE event held back while looking for the result; past it, the stream goes
/// on as it came (the receipt is then in the `PAYMENT-RESPONSE` header alone).
pub const MAX_HELD_EVENT: usize = 1024 * 1024;

/// Puts `settlement` in the SSE event that carries the result for request `id`, as the stream
/// passes: bytes go on as they come, event by event (WHATWG HTML §9.2: an event ends at a blank
/// line), the one with the result spliced (a one-line `data:` message, as MCP's Streamable HTTP
/// sends it); once that is done, or past [`MAX_HELD_EVENT`], everything passes untouched. Nothing
/// waits for the stream to end, so a stream the origin keeps open still delivers.
pub struct SseSettlement {
    id: Value,
    key: &'static str,
    settlement: Value,
    held: Vec<u8>,
    done: bool,
}

impl SseSettlement {
    pub fn new(id: Value, key: &'static str, settlement: Value) -> Self {
        Self {
            id,
            key,
            settlement,
            held: Vec::new(),
            done: false,
        }
    }

    /// What to send on for a chunk of the origin's stream.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.done {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = event_end(&self.held) {
            let event: Vec<u8> = self.held.drain(..end).collect();
            match self.rewrite(&event) {
                Some(rewritten) => {
                    out.extend_from_slice(&rewritten);
                    self.done = true;
                    out.append(&mut self.held);
                    return out;
                }
                None => out.extend_from_slice(&event),
            }
        }
        if self.held.len() > MAX_HELD_EVENT {
            self.done = true;
            out.append(&mut self.held);
        }
        out
    }

    /// What is left when the origin's stream ends.
    pub fn finish(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.held)
    }

    fn rewrite(&self, event: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(event).ok()?;
        let mut out = String::with_capacity(text.len() + 256);
        let mut done = false;
        for line in text.split_inclusive('\n') {
            let content = line.trim_end_matches(['\r', '\n']);
            let ending = &line[content.len()..];
            let data = content.strip_prefix("data:").filter(|_| !done);
            let spliced = data.and_then(|d| {
                let d = d.strip_prefix(' ').unwrap_or(d);
                json_with_settlement(d.as_bytes(), &self.id, self.key, &self.settlement)
            });
            match spliced {
                Some(message) => {
                    out.push_str("data: ");
                    out.push_str(std::str::from_utf8(&message).ok()?);
                    out.push_str(ending);
                    done = true;
                }
                None => out.push_str(line),
            }
        }
        done.then(|| out.into_bytes())
    }
}

/// Where the first complete event of `held` ends (after its blank line), if one is complete.
fn event_end(held: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < held.len() {
        if held[i] == b'\n' {
            match (held.get(i + 1), held.get(i + 2)) {
                (Some(b'\n'), _) => return Some(i + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const K: &str = X402_PAYMENT_RESPONSE_META_KEY;

    #[test]
    fn a_payment_is_an_object_or_its_base64() {
        let p = json!({"x402Version": 2, "payload": {}});
        assert_eq!(payload_from_meta(&p), Ok(p.clone()));
        let b64 = crate::rails::x402::encode(&p);
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
        let body = br#"{"jsonrpc":"2.0","id":3,"result":{"n":1E5,"content":[]}}"#;
        let out = json_with_settlement(body, &id, K, &s).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"jsonrpc":"2.0","id":3,"result":{"_meta":{"x402/payment-response":{"success":true,"transaction":"0xab"}},"n":1E5,"content":[]}}"#
        );
        assert!(
            json_with_settlement(br#"{"jsonrpc":"2.0","id":4,"result":{}}"#, &id, K, &s).is_none()
        );
        assert!(
            json_with_settlement(br#"{"jsonrpc":"2.0","id":3,"error":{}}"#, &id, K, &s).is_none()
        );
    }

    #[test]
    fn an_sse_stream_passes_as_it_comes_with_the_result_event_spliced() {
        let s = json!({"success": true});
        let progress = "event: message\r\nid: 9\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n";
        let result = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"_meta\":{\"k\":1E5}}}\n\n";
        let tail = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n";
        let stream = format!("{progress}{result}{tail}");
        // Fed a byte at a time: the progress event goes out whole as soon as it is complete.
        let mut r = SseSettlement::new(json!(3), K, s.clone());
        let mut out = Vec::new();
        let mut progress_out_at = None;
        for (i, b) in stream.as_bytes().iter().enumerate() {
            out.extend(r.feed(std::slice::from_ref(b)));
            if progress_out_at.is_none() && out.len() >= progress.len() {
                progress_out_at = Some(i);
            }
        }
        out.extend(r.finish());
        assert_eq!(
            progress_out_at,
            Some(progress.len() - 1),
            "nothing waits for the stream to end"
        );
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with(progress));
        assert!(out.contains("data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"_meta\":{\"x402/payment-response\":{\"success\":true},\"k\":1E5}}}\n\n"));
        assert!(
            out.ends_with(tail),
            "only the first result event is spliced"
        );
    }

    #[test]
    fn an_event_too_large_to_hold_passes_untouched() {
        let mut r = SseSettlement::new(json!(1), K, json!({}));
        let big = vec![b'x'; MAX_HELD_EVENT + 1];
        assert_eq!(r.feed(&big).len(), big.len());
        assert_eq!(r.feed(b"data: {}\n\n"), b"data: {}\n\n");
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
