//! The 402 body and headers (docs/PROTOCOL.md §1): one `WWW-Authenticate` line per offered challenge,
//! in the configured order (L402 first when offered, since a popular client dispatches on the
//! first scheme it sees), the rate-limit headers, `Retry-After` for clients that only wait, and a
//! JSON body that carries the whole offer so agents need not parse headers. The
//! `Gatehouse-Challenge` marker tells the client kit the offer is the gateway's own.

use serde_json::Value;

use crate::metering::quota::{Decision, Policy};
use crate::metering::ratelimit::quota_headers;
use crate::rails::challenge::{
    L402Offer, Offer, OfferKind, PowChallenge, L402_SCHEME, L402_TYPE, POW_SCHEME, POW_TYPE,
};
use crate::rails::difficulty::{estimated_cpu_seconds, REFERENCE_HASH_RATE};
use crate::rails::pow::{estimated_hashes, ALGORITHM};
use crate::rails::x402::{X402Offer, PAYMENT_REQUIRED_HEADER, X402_TYPE};
use crate::wire::headers::{
    CHALLENGE_MARKER_HEADER, CHALLENGE_MARKER_VALUE, RETRY_AFTER_HEADER, WWW_AUTHENTICATE_HEADER,
};
use crate::wire::json_object::object;

pub fn payment_required(
    policy: &Policy,
    decision: &Decision,
    offers: &[Offer],
    verify_url: &str,
) -> (Value, Vec<(&'static str, String)>) {
    let retry_after = decision.retry_after_s.unwrap_or(1);
    let mut headers = quota_headers(policy, decision);
    headers.push((CHALLENGE_MARKER_HEADER, CHALLENGE_MARKER_VALUE.into()));
    if decision.retry_after_s.is_none() {
        headers.push((RETRY_AFTER_HEADER, retry_after.to_string()));
    }
    let mut challenges = Vec::with_capacity(offers.len());
    for offer in offers {
        let (line, body) = match offer {
            Offer::Pow(pow) => pow_offer(pow, verify_url),
            Offer::L402(l402) => l402_offer(l402, verify_url),
            // x402 has no `WWW-Authenticate` scheme: its HTTP transport's header is its own.
            Offer::X402(x402) => {
                headers.push((PAYMENT_REQUIRED_HEADER, x402.header(None)));
                challenges.push(x402_offer(x402));
                continue;
            }
            Offer::Mpp(mpp) => (mpp.header(), mpp.offer_json()),
        };
        headers.push((WWW_AUTHENTICATE_HEADER, line));
        challenges.push(body);
    }
    let first = challenges.first().cloned().unwrap_or(Value::Null);
    let instructions = offers
        .first()
        .map_or(OfferKind::Pow, Offer::kind)
        .rail()
        .instructions;
    let body = object([
        ("error", "quota_exhausted".into()),
        ("type", first["type"].clone()),
        ("challenge_id", first["challenge_id"].clone()),
        ("instructions", instructions.into()),
        ("retry_after", retry_after.into()),
        ("challenges", challenges.into()),
    ]);
    (body, headers)
}

fn pow_offer(pow: &PowChallenge, verify_url: &str) -> (String, Value) {
    let line = format!(
        "{POW_SCHEME} challenge_id=\"{}\", salt=\"{}\", difficulty={}, algorithm=\"{ALGORITHM}\", expires=\"{}\"",
        pow.id,
        pow.salt,
        pow.difficulty,
        pow.expires_at_s()
    );
    let cpu_seconds = (estimated_cpu_seconds(pow.difficulty) * 1e6).round() / 1e6;
    let mut body = object([
        ("type", POW_TYPE.into()),
        ("challenge_id", pow.id.as_str().into()),
        ("salt", pow.salt.as_str().into()),
        ("difficulty", pow.difficulty.into()),
        ("algorithm", ALGORITHM.into()),
        ("expires_at", pow.expires_at_s().into()),
        ("estimated_hashes", estimated_hashes(pow.difficulty).into()),
        ("estimated_cpu_seconds", cpu_seconds.into()),
        ("reference_hash_rate", REFERENCE_HASH_RATE.into()),
        ("verify_url", verify_url.into()),
    ]);
    if let (true, Some(body)) = (pow.reduced, body.as_object_mut()) {
        // Bought under a tight time budget: a longer-lived token limited to some tools.
        body.insert("grant".into(), "reduced".into());
    }
    (line, body)
}

fn l402_offer(offer: &L402Offer, verify_url: &str) -> (String, Value) {
    // The form the common L402 clients all parse (docs/PROTOCOL.md §2): macaroon first, quoted.
    let line = format!(
        "{L402_SCHEME} macaroon=\"{}\", invoice=\"{}\"",
        offer.macaroon, offer.invoice
    );
    let body = object([
        ("type", L402_TYPE.into()),
        ("challenge_id", offer.challenge_id.as_str().into()),
        ("macaroon", offer.macaroon.as_str().into()),
        ("invoice", offer.invoice.as_str().into()),
        ("payment_hash", offer.payment_hash.as_str().into()),
        ("amount_sats", offer.amount_sats.into()),
        ("expires_at", (offer.expires_at_ms / 1_000).into()),
        ("verify_url", verify_url.into()),
    ]);
    (line, body)
}

/// The body's copy of the x402 requirement, for agents that read bodies: the same
/// `PaymentRequired` the header carries, under the gateway's `type`.
fn x402_offer(offer: &X402Offer) -> Value {
    let mut body = offer.payment_required(None);
    if let Some(o) = body.as_object_mut() {
        o.insert("type".into(), X402_TYPE.into());
        o.insert("header".into(), "PAYMENT-REQUIRED".into());
    }
    body
}
