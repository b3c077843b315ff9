//! How a quota exhaustion is told to the client (docs/PROTOCOL.md §1, §4, §5, §6): the `402` with
//! its challenges, a `429` for clients that cannot act on one, or an answer inside MCP.
//!
//! Inside MCP, each request gets what its revision defines or permits:
//! - a `tools/call` gets a tool *result* with `isError: true`, as x402's MCP transport
//!   (coinbase/x402 `specs/transports-v2/mcp.md`) signals payment: `structuredContent` is the
//!   `PaymentRequired` object (its `accepts` empty when the route offers no x402) with every offer
//!   of the route beside it in `challenges`, `content[0].text` its `{"x402/error": …}` wrapper,
//!   and `content[1].text` what happened and what to do, for a model reading the result;
//! - any other request gets JSON-RPC error [`RPC_PAYMENT_REQUIRED`] (402), a code outside
//!   `-32768…-32000`, which no revision defines otherwise: 2025-11-25 gives -32042 another
//!   meaning and 2026-07-28 forbids it and every undefined code in `-32020…-32099`.

use serde_json::Value;

use super::RPC_PAYMENT_REQUIRED;
use crate::mcp::revision::Revision;
use crate::metering::quota::{Decision, Policy};
use crate::rails::challenge::{Offer, OfferKind};
use crate::rails::mpp::PAYMENT_REQUIRED_META_KEY;
use crate::rails::payment_required::payment_required;
use crate::wire::headers::{CHALLENGE_MARKER_HEADER, WWW_AUTHENTICATE_HEADER};
use crate::wire::json_object::object;

/// How a quota exhaustion is told to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `402` with the challenges: the protocol's own answer.
    PaymentRequired,
    /// `429` with `Retry-After`: for legacy clients and clients still in their grace period.
    TooManyRequests,
    /// `200` with an answer inside MCP per request id (see the module's header): for clients
    /// that cannot act on HTTP 402. `batch` keeps the answer's shape equal to the request's.
    InBand {
        calls: Vec<InBandCall>,
        batch: bool,
        revision: Revision,
    },
}

/// A request answered in-band: its id, and whether it is a `tools/call` (answered with a tool
/// result) or anything else (answered with a JSON-RPC error).
#[derive(Debug, Clone, PartialEq)]
pub struct InBandCall {
    pub id: Value,
    pub tool_call: bool,
}

/// What a model reading the refused call's result is told.
fn explanation(body: &Value) -> String {
    let kinds: Vec<&str> = body["challenges"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["type"].as_str()).collect())
        .unwrap_or_default();
    let ways: Vec<&str> = kinds
        .iter()
        .map(|k| OfferKind::parse(k).map_or("answer the offer", |kind| kind.rail().way))
        .collect();
    format!(
        "Payment required: the gateway in front of this MCP server refused this call because the \
         client's quota is spent; the tool did not run. To go on, the client can {}, then call the \
         tool again; the details are in structuredContent.challenges. Otherwise retry after {} \
         seconds.",
        if ways.is_empty() {
            "wait".to_string()
        } else {
            ways.join(", or ")
        },
        body["retry_after"]
    )
}

/// The `PaymentRequired` object of a tool result: x402's own when it is offered, else one with no
/// `accepts`; the other offers beside it.
fn payment_required_object(offers: &[Offer], body: &Value) -> Value {
    let mut required = offers
        .iter()
        .find_map(|o| match o {
            Offer::X402(x) => Some(x.payment_required(Some("Payment required"))),
            _ => None,
        })
        .unwrap_or_else(|| {
            object([
                ("x402Version", 2.into()),
                ("error", "Payment required".into()),
                ("accepts", Vec::<Value>::new().into()),
            ])
        });
    if let Some(o) = required.as_object_mut() {
        o.insert("challenges".into(), body["challenges"].clone());
        o.insert("retry_after".into(), body["retry_after"].clone());
    }
    required
}

fn tool_result(required: &Value, text: &str, revision: Revision, offers: &[Offer]) -> Value {
    let wrapper = object([(
        "x402/error",
        object([
            ("code", 402.into()),
            ("message", "Payment required".into()),
            ("data", required.clone()),
        ]),
    )]);
    let content = vec![
        object([
            ("type", "text".into()),
            ("text", wrapper.to_string().into()),
        ]),
        object([("type", "text".into()), ("text", text.into())]),
    ];
    let mut result = object([
        ("isError", true.into()),
        ("content", content.into()),
        ("structuredContent", required.clone()),
    ]);
    if let (true, Some(o)) = (revision.typed_results(), result.as_object_mut()) {
        o.insert("resultType".into(), "complete".into());
    }
    // MPP's MCP transport reads its challenge from the result's `_meta`.
    let mpp = offers.iter().find_map(|o| match o {
        Offer::Mpp(challenge) => Some(challenge),
        _ => None,
    });
    if let (Some(mpp), Some(o)) = (mpp, result.as_object_mut()) {
        let meta = object([(PAYMENT_REQUIRED_META_KEY, mpp.payment_required_meta())]);
        o.insert("_meta".into(), meta);
    }
    result
}

pub(super) fn exhausted(
    policy: &Policy,
    decision: &Decision,
    offers: &[Offer],
    verify_url: &str,
    answer: &Answer,
) -> (u16, Value, Vec<(&'static str, String)>) {
    let (body, headers) = payment_required(policy, decision, offers, verify_url);
    match answer {
        Answer::PaymentRequired => (402, body, headers),
        Answer::TooManyRequests => {
            // No challenge in a 429, so nothing for the marker to vouch for.
            let headers = headers
                .into_iter()
                .filter(|(k, _)| *k != WWW_AUTHENTICATE_HEADER && *k != CHALLENGE_MARKER_HEADER)
                .collect();
            let retry_after = body["retry_after"].clone();
            (
                429,
                object([
                    ("error", "rate_limited".into()),
                    (
                        "message",
                        "too many requests; retry after retry_after seconds".into(),
                    ),
                    ("retry_after", retry_after),
                ]),
                headers,
            )
        }
        Answer::InBand {
            calls,
            batch,
            revision,
        } => {
            let headers = headers
                .into_iter()
                .filter(|(k, _)| *k != WWW_AUTHENTICATE_HEADER)
                .collect();
            let data = object([
                ("httpStatus", 402.into()),
                ("challenges", body["challenges"].clone()),
                ("retry_after", body["retry_after"].clone()),
                ("instructions", body["instructions"].clone()),
            ]);
            let required = payment_required_object(offers, &body);
            let text = explanation(&body);
            let answers: Vec<Value> = calls
                .iter()
                .map(|call| {
                    let (field, value) = if call.tool_call {
                        ("result", tool_result(&required, &text, *revision, offers))
                    } else {
                        let error = object([
                            ("code", RPC_PAYMENT_REQUIRED.into()),
                            ("message", "Payment required".into()),
                            ("data", data.clone()),
                        ]);
                        ("error", error)
                    };
                    object([
                        ("jsonrpc", "2.0".into()),
                        ("id", call.id.clone()),
                        (field, value),
                    ])
                })
                .collect();
            let body = match (batch, answers.len()) {
                (false, 1) => answers.into_iter().next().unwrap_or(Value::Null),
                _ => Value::Array(answers),
            };
            (200, body, headers)
        }
    }
}
