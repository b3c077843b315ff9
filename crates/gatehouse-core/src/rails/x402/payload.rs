//! Reading a `PAYMENT-SIGNATURE` header (x402 v2 HTTP transport) and checking its
//! `PaymentPayload` against the requirement of the request it comes with (x402 v2 `exact` scheme
//! on EVM, EIP-3009 method). These checks need no chain and no facilitator: they refuse, with a
//! reason, every payload that could not pay for this request, before anything is spent on it.
//! The signature, the payer's balance and the nonce's state on chain are the facilitator's to
//! verify.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{is_address, parse_amount, same_address, Rejection, Requirement, SCHEME, X402_VERSION};
use crate::wire::bytes::to_hex;

/// The header's cap: an EIP-3009 payload is about 1.5 KB in base64; anything far past that is
/// not one, and is refused before it is decoded.
pub const MAX_SIGNATURE_HEADER: usize = 8 * 1024;

/// An authorization must stay valid this long after it is checked, for the facilitator to
/// settle it (the official facilitator asks the same).
pub const VALIDITY_MARGIN_S: u64 = 6;

/// How far past `now + maxTimeoutSeconds` an authorization may run, for clocks that disagree.
/// Past it the payload is refused, which keeps the single-use records short-lived.
pub const CLOCK_SLACK_S: u64 = 600;

/// A payment that checked out against the requirement, ready for the facilitator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The `PaymentPayload` as the client sent it: the facilitator verifies exactly that.
    pub payload: Value,
    pub payer: String,
    /// `0x` and 64 hex digits, lowercase.
    pub nonce: String,
    pub valid_before_s: u64,
    /// What makes the payment single-use here: the hash of network, token, payer and nonce,
    /// which the token contract itself never lets settle twice.
    pub id: String,
}

/// Decodes the header's base64 into the `PaymentPayload` JSON object.
pub fn decode(header: &str) -> Result<Value, Rejection> {
    if header.len() > MAX_SIGNATURE_HEADER {
        return Err(Rejection::Malformed("PAYMENT-SIGNATURE is too long"));
    }
    let bytes = B64
        .decode(header.trim())
        .map_err(|_| Rejection::Malformed("PAYMENT-SIGNATURE is not base64"))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| Rejection::Malformed("PAYMENT-SIGNATURE is not JSON"))?;
    if !value.is_object() {
        return Err(Rejection::Malformed(
            "PAYMENT-SIGNATURE is not a JSON object",
        ));
    }
    Ok(value)
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A decimal string of seconds, as EIP-3009 times are written.
fn seconds(v: &Value, key: &str) -> Option<u64> {
    text(v, key)
        .and_then(parse_amount)
        .and_then(|n| u64::try_from(n).ok())
}

/// Checks the payload against `req` at `now_s`: the terms the client accepted, then the
/// authorization it signed, each of which must be exactly the requirement's.
pub fn check(payload: Value, req: &Requirement, now_s: u64) -> Result<Payment, Rejection> {
    if payload.get("x402Version").and_then(Value::as_u64) != Some(X402_VERSION) {
        return Err(Rejection::Version);
    }
    let accepted = payload
        .get("accepted")
        .filter(|a| a.is_object())
        .ok_or(Rejection::Malformed("accepted is missing"))?;
    if text(accepted, "scheme") != Some(SCHEME) {
        return Err(Rejection::Scheme);
    }
    if text(accepted, "network") != Some(req.network.as_str()) {
        return Err(Rejection::Network);
    }
    if !text(accepted, "asset").is_some_and(|a| same_address(a, &req.asset)) {
        return Err(Rejection::Asset);
    }
    if !text(accepted, "payTo").is_some_and(|a| same_address(a, &req.pay_to)) {
        return Err(Rejection::PayTo);
    }
    if text(accepted, "amount").and_then(parse_amount) != Some(req.amount) {
        return Err(Rejection::Amount);
    }
    let inner = payload.get("payload");
    let auth = inner
        .and_then(|p| p.get("authorization"))
        .filter(|a| a.is_object())
        .ok_or(Rejection::Malformed(
            "payload.authorization is missing (only EIP-3009 is accepted)",
        ))?;
    let signature = inner.and_then(|p| text(p, "signature")).unwrap_or("");
    if signature.len() < 4
        || !signature.starts_with("0x")
        || !signature[2..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(Rejection::Malformed("payload.signature is not hex"));
    }
    let payer = text(auth, "from")
        .filter(|a| is_address(a))
        .ok_or(Rejection::Malformed("authorization.from is not an address"))?;
    let nonce = text(auth, "nonce")
        .filter(|n| n.len() == 66 && n.starts_with("0x"))
        .filter(|n| n[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(Rejection::Malformed("authorization.nonce is not 32 bytes"))?
        .to_ascii_lowercase();
    if !text(auth, "to").is_some_and(|a| same_address(a, &req.pay_to)) {
        return Err(Rejection::PayTo);
    }
    if text(auth, "value").and_then(parse_amount) != Some(req.amount) {
        return Err(Rejection::Amount);
    }
    let (Some(valid_after), Some(valid_before)) =
        (seconds(auth, "validAfter"), seconds(auth, "validBefore"))
    else {
        return Err(Rejection::Malformed("the validity window is not decimal"));
    };
    if valid_after > now_s {
        return Err(Rejection::NotYetValid);
    }
    if valid_before < now_s.saturating_add(VALIDITY_MARGIN_S) {
        return Err(Rejection::Expired);
    }
    if valid_before > now_s + u64::from(req.max_timeout_s) + CLOCK_SLACK_S {
        return Err(Rejection::ValidTooLong);
    }
    let id = payment_id(&req.network, &req.asset, payer, &nonce);
    Ok(Payment {
        payer: payer.to_string(),
        nonce,
        valid_before_s: valid_before,
        id,
        payload,
    })
}

/// The single-use key of an authorization: `sha256("x402|network|token|payer|nonce")`, with the
/// addresses and nonce lowercased so no spelling of one payment is another.
pub fn payment_id(network: &str, asset: &str, payer: &str, nonce: &str) -> String {
    let key = format!(
        "x402|{network}|{}|{}|{}",
        asset.to_ascii_lowercase(),
        payer.to_ascii_lowercase(),
        nonce.to_ascii_lowercase()
    );
    to_hex(&Sha256::digest(key.as_bytes()))
}
