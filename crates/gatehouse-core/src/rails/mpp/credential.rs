//! Reading an MPP credential (draft-ryan-httpauth-payment, "Credentials"; draft-evm-charge,
//! `authorization` credentials) and judging its echoed challenge, with no I/O:
//!
//! - the id must be this gateway's HMAC over the echoed parameters (`binding::is_ours`), so no
//!   parameter was changed, and the `request` must be exactly the one this request would be
//!   offered now (its price, token, recipient, chain), so a challenge bought cheap elsewhere or
//!   earlier does not pay for this one;
//! - `realm` must be this gateway's, `opaque` must name this route, `expires` must be present and
//!   in the future, and a `digest` must be this request's body's;
//! - the payload's EIP-3009 authorization becomes the x402 `PaymentPayload` the facilitator
//!   reads, which `x402::payload::check` then judges exactly as an x402 payment.

use serde_json::Value;

use super::binding::{body_digest, decode_b64, is_ours, parse_rfc3339, Bound};
use super::{opaque_for, request_json, CREDENTIAL_TYPE, INTENT, METHOD};
use crate::credentials::keys::KeyRing;
use crate::rails::x402::{is_address, same_address, Rejection, Requirement, X402_VERSION};
use crate::wire::json_object::object;

/// A credential's cap: an EIP-3009 credential is about 1.5 KB of base64url.
pub const MAX_CREDENTIAL: usize = 8 * 1024;

/// What this request's challenge would be, to judge an echo against.
pub struct Expected<'a> {
    pub keys: &'a KeyRing,
    pub realm: &'a str,
    pub route: &'a str,
    pub chain_id: u64,
    pub requirement: &'a Requirement,
    /// The body as it came, for an echoed `digest`.
    pub body: &'a [u8],
    pub now_ms: u64,
}

/// A credential that passed: the x402 `PaymentPayload` for the facilitator, and the challenge id
/// its receipt names.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub payload: Value,
    pub challenge_id: String,
}

/// `Authorization: Payment <base64url JSON>` (other schemes in the same header are not ours).
pub fn from_header(value: &str) -> Option<Result<Value, Rejection>> {
    let token = value.split(',').map(str::trim).find_map(|part| {
        let (scheme, rest) = part.split_once(char::is_whitespace)?;
        scheme
            .eq_ignore_ascii_case(super::SCHEME)
            .then_some(rest.trim())
    })?;
    if token.len() > MAX_CREDENTIAL {
        return Some(Err(Rejection::Malformed(
            "the Payment credential is too long",
        )));
    }
    let parsed = decode_b64(token)
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(Value::is_object)
        .ok_or(Rejection::Malformed(
            "the Payment credential is not base64url JSON",
        ));
    Some(parsed)
}

/// The credential of a body (`params._meta["org.paymentauth/credential"]`), cut out of its
/// bytes like every credential for the gateway, and the body without it.
pub fn take_from_body(body: &[u8]) -> Option<(Value, Vec<u8>)> {
    crate::mcp::take_meta_member(body, super::CREDENTIAL_META_KEY, |_| true)
}

/// `params._meta["org.paymentauth/credential"]`: an object.
pub fn from_meta(value: &Value) -> Result<Value, Rejection> {
    match value {
        Value::Object(_) if value.to_string().len() <= MAX_CREDENTIAL => Ok(value.clone()),
        Value::Object(_) => Err(Rejection::Malformed("the Payment credential is too long")),
        _ => Err(Rejection::Malformed(
            "the Payment credential is not an object",
        )),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Judges `credential` against what this request would be offered.
pub fn accept(credential: &Value, e: &Expected) -> Result<Accepted, Rejection> {
    let challenge = credential
        .get("challenge")
        .filter(|c| c.is_object())
        .ok_or(Rejection::Malformed("the credential has no challenge"))?;
    let field = |key: &'static str| text(challenge, key);
    let (Some(id), Some(realm), Some(method), Some(intent)) = (
        field("id"),
        field("realm"),
        field("method"),
        field("intent"),
    ) else {
        return Err(Rejection::Malformed(
            "the echoed challenge lacks a parameter",
        ));
    };
    if method != METHOD || intent != INTENT {
        return Err(Rejection::MethodUnsupported);
    }
    // The request this request would be offered now, byte for byte: a header echo is base64url
    // of RFC 8785 JSON (the client re-encodes it so), an MCP echo the same JSON as an object.
    let ours = request_json(e.requirement, e.chain_id);
    let same_request = match challenge.get("request") {
        Some(Value::String(encoded)) => decode_b64(encoded).is_some_and(|b| b == ours.as_bytes()),
        Some(object @ Value::Object(_)) => {
            serde_json::from_str::<Value>(&ours).is_ok_and(|v| &v == object)
        }
        _ => false,
    };
    let request = super::binding::b64url(ours.as_bytes());
    let (expires, digest, opaque) = (
        field("expires").unwrap_or(""),
        field("digest").unwrap_or(""),
        field("opaque").unwrap_or(""),
    );
    let bound = Bound {
        realm,
        method,
        intent,
        request: &request,
        expires,
        digest,
        opaque,
    };
    // Checked before anything else is compared, so an id that is not ours learns nothing more.
    if !same_request || !is_ours(e.keys, &bound, id) {
        return Err(Rejection::Challenge(
            "the challenge was not issued by this gateway for this request's price",
        ));
    }
    if realm != e.realm {
        return Err(Rejection::Challenge(
            "the challenge was issued for another realm",
        ));
    }
    if opaque != opaque_for(e.route) {
        return Err(Rejection::Challenge(
            "the challenge was issued for another route",
        ));
    }
    let Some(until_ms) = parse_rfc3339(expires) else {
        return Err(Rejection::Challenge("the challenge has no expiry"));
    };
    if until_ms <= e.now_ms {
        return Err(Rejection::ChallengeExpired);
    }
    if !digest.is_empty() && digest != body_digest(e.body) {
        return Err(Rejection::Challenge(
            "the challenge was issued for another body",
        ));
    }
    let payload = credential
        .get("payload")
        .filter(|p| p.is_object())
        .ok_or(Rejection::Malformed("the credential has no payload"))?;
    if text(payload, "type") != Some(CREDENTIAL_TYPE) {
        return Err(Rejection::Malformed(
            "only authorization credentials are accepted",
        ));
    }
    let from = text(payload, "from").filter(|a| is_address(a));
    let Some(from) = from else {
        return Err(Rejection::Malformed("payload.from is not an address"));
    };
    if let Some(source) = credential.get("source") {
        let expected = format!("did:pkh:eip155:{}:", e.chain_id);
        let matches = source
            .as_str()
            .and_then(|s| s.strip_prefix(&expected))
            .is_some_and(|a| same_address(a, from));
        if !matches {
            return Err(Rejection::Malformed("source is not the payer's did:pkh"));
        }
    }
    let mut authorization = serde_json::Map::new();
    for key in ["from", "to", "value", "validAfter", "validBefore", "nonce"] {
        let value =
            text(payload, key).ok_or(Rejection::Malformed("the authorization lacks a field"))?;
        authorization.insert(key.into(), value.into());
    }
    let signature = text(payload, "signature").unwrap_or("");
    let x402 = object([
        ("x402Version", X402_VERSION.into()),
        ("accepted", e.requirement.to_json()),
        (
            "payload",
            object([
                ("authorization", Value::Object(authorization)),
                ("signature", signature.into()),
            ]),
        ),
    ]);
    Ok(Accepted {
        payload: x402,
        challenge_id: id.to_string(),
    })
}
