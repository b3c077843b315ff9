//! The facilitator's interface (x402 v2 §7): what the gateway posts to `/verify` and `/settle`,
//! and how it reads their answers. A facilitator that answers with anything but one of the
//! specification's response objects is treated as down (`None`): the shell answers 503 with
//! `Retry-After`, never a 402 the client could not have caused, and never serves the request.

use serde_json::Value;

use super::payload::Payment;
use super::rejection::sanitize;
use super::{encode, is_address, Rejection, Requirement, X402_VERSION};
use crate::wire::json_object::object;

/// The paths of the facilitator's endpoints, under its configured URL.
pub const VERIFY_PATH: &str = "/verify";
pub const SETTLE_PATH: &str = "/settle";

/// The cap on a facilitator's answer: its response objects are a few hundred bytes.
pub const MAX_FACILITATOR_BODY: usize = 16 * 1024;

/// The body of both `/verify` and `/settle`: the payload as the client sent it, and the
/// gateway's own requirement (never the one the client says it accepted).
pub fn request_body(payment: &Payment, req: &Requirement) -> String {
    object([
        ("x402Version", X402_VERSION.into()),
        ("paymentPayload", payment.payload.clone()),
        ("paymentRequirements", req.to_json()),
    ])
    .to_string()
}

/// A facilitator's JSON object answer, if it sent one with a status that carries one. A `400`
/// may carry a refusal; any other status is the facilitator failing.
fn answer(status: u16, body: &[u8]) -> Option<Value> {
    if !matches!(status, 200 | 400) || body.len() > MAX_FACILITATOR_BODY {
        return None;
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

/// `/verify`'s verdict: `Ok` if the payment is valid, `Err` with the reason if not, `None` if
/// the facilitator failed.
pub fn read_verify(status: u16, body: &[u8]) -> Option<Result<(), Rejection>> {
    let v = answer(status, body)?;
    match v.get("isValid").and_then(Value::as_bool)? {
        true if status == 200 => Some(Ok(())),
        true => None,
        false => Some(Err(Rejection::Refused(sanitize(
            v.get("invalidReason").and_then(Value::as_str),
        )))),
    }
}

/// A settled payment, as told to the client in `PAYMENT-RESPONSE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub transaction: String,
    pub network: String,
    pub payer: String,
}

impl Settlement {
    /// The `SettlementResponse` object: rebuilt from checked fields, not passed through.
    pub fn to_json(&self) -> Value {
        object([
            ("success", true.into()),
            ("transaction", self.transaction.as_str().into()),
            ("network", self.network.as_str().into()),
            ("payer", self.payer.as_str().into()),
        ])
    }

    pub fn header(&self) -> String {
        encode(&self.to_json())
    }
}

/// A failed `SettlementResponse`, for the `PAYMENT-RESPONSE` of a refusal.
pub fn failed_settlement(reason: &str, network: &str, payer: &str) -> Value {
    object([
        ("success", false.into()),
        ("errorReason", reason.into()),
        ("transaction", "".into()),
        ("network", network.into()),
        ("payer", payer.into()),
    ])
}

/// Whether `s` is a transaction hash: `0x` and 64 hex digits.
fn is_transaction(s: &str) -> bool {
    s.len() == 66 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `/settle`'s outcome for `payment` on `network`: `Ok` with the transaction, `Err` with the
/// reason it was refused, `None` if the facilitator failed (or claims a success it does not
/// show: a settlement without a transaction on the offered network is not one).
pub fn read_settle(
    status: u16,
    body: &[u8],
    network: &str,
    payment: &Payment,
) -> Option<Result<Settlement, Rejection>> {
    let v = answer(status, body)?;
    match v.get("success").and_then(Value::as_bool)? {
        true => {
            let transaction = v.get("transaction").and_then(Value::as_str)?;
            let on_network = v.get("network").and_then(Value::as_str) == Some(network);
            if status != 200 || !is_transaction(transaction) || !on_network {
                return None;
            }
            let payer = v
                .get("payer")
                .and_then(Value::as_str)
                .filter(|p| is_address(p))
                .unwrap_or(&payment.payer);
            Some(Ok(Settlement {
                transaction: transaction.to_string(),
                network: network.to_string(),
                payer: payer.to_string(),
            }))
        }
        false => Some(Err(Rejection::SettleFailed(sanitize(
            v.get("errorReason").and_then(Value::as_str),
        )))),
    }
}
