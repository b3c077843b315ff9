//! How a quota exhaustion is told to the client (docs/PROTOCOL.md §1, §4, §5): the `402` with its
//! challenges, a `429` for clients that cannot act on one, or JSON-RPC errors in-band.

use serde_json::Value;

use super::RPC_PAYMENT_REQUIRED;
use crate::challenge::Offer;
use crate::headers::{CHALLENGE_MARKER_HEADER, WWW_AUTHENTICATE_HEADER};
use crate::json_object::object;
use crate::payment_required::payment_required;
use crate::quota::{Decision, Policy};

/// How a quota exhaustion is told to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `402` with the challenges: the protocol's own answer.
    PaymentRequired,
    /// `429` with `Retry-After`: for legacy clients and clients still in their grace period.
    TooManyRequests,
    /// `200` with a JSON-RPC error -32042 per request id carrying the challenges: for clients
    /// that cannot act on HTTP 402. `batch` keeps the answer's shape equal to the request's.
    InBand { ids: Vec<Value>, batch: bool },
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
        Answer::InBand { ids, batch } => {
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
            let errors: Vec<Value> = ids
                .iter()
                .map(|id| {
                    let error = object([
                        ("code", RPC_PAYMENT_REQUIRED.into()),
                        ("message", "Payment required".into()),
                        ("data", data.clone()),
                    ]);
                    object([
                        ("jsonrpc", "2.0".into()),
                        ("id", id.clone()),
                        ("error", error),
                    ])
                })
                .collect();
            let body = match (batch, errors.len()) {
                (false, 1) => errors.into_iter().next().unwrap_or(Value::Null),
                _ => Value::Array(errors),
            };
            (200, body, headers)
        }
    }
}
