//! MPP, the HTTP `Payment` authentication scheme (IETF draft-ryan-httpauth-payment), with its
//! `evm` method's `charge` intent (draft-evm-charge) and its MCP transport
//! (draft-payment-transport-mcp), on the same rail as x402: an EIP-3009 authorization on the
//! configured token, checked and settled by the same facilitator, claimed once in the same store.
//!
//! - Offer: `WWW-Authenticate: Payment id, realm, method="evm", intent="charge", request,
//!   expires, digest, opaque` beside the other challenges. `request` is the price of this one
//!   request: `{amount, currency, methodDetails: {chainId, credentialTypes: ["authorization"]},
//!   recipient}`. `opaque` names the route that sold it, `digest` the body it was asked for.
//! - Binding (`binding.rs`): the id is an HMAC over those parameters, so the gateway stores
//!   nothing to make an offer and checks an echoed challenge with no I/O.
//! - Credential (`credential.rs`): `Authorization: Payment <base64url JSON>`, or in MCP
//!   `params._meta["org.paymentauth/credential"]` (an object); its EIP-3009 authorization is
//!   turned into the x402 `PaymentPayload` the facilitator reads, then judged as x402's is.
//! - Receipt: `Payment-Receipt` (base64url JSON), in MCP `result._meta["org.paymentauth/receipt"]`.
//! - Refusals (`problem.rs`): RFC 9457 problem details with a fresh challenge.
//!
//! Not done here: the `evm` method's nonce is `keccak256(id ‖ realm)` by mppx's convention; the
//! gateway does not derive it (it has no Keccak) and needs not: the token contract never lets one
//! nonce settle twice, and the claim keyed on it (`x402::payload::payment_id`) is taken once
//! whichever wire the authorization came on.

pub mod binding;
pub mod credential;
pub mod problem;
pub mod refusal;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::credentials::keys::KeyRing;
use crate::rails::x402::{decimal, Requirement};
use crate::wire::json_object::object;
use binding::{b64url, challenge_id, rfc3339, Bound};

pub const SCHEME: &str = "Payment";
pub const METHOD: &str = "evm";
pub const INTENT: &str = "charge";
/// The one credential type accepted: an EIP-3009 authorization the facilitator settles.
pub const CREDENTIAL_TYPE: &str = "authorization";
/// The `type` of an MPP offer in a 402 body's `challenges`.
pub const MPP_TYPE: &str = "mpp";
pub const RECEIPT_HEADER: &str = "payment-receipt";
/// Sent by clients that pay `Payment` challenges (e.g. `evm/charge`): they handle HTTP 402.
pub const ACCEPT_PAYMENT_HEADER: &str = "accept-payment";
pub const CREDENTIAL_META_KEY: &str = "org.paymentauth/credential";
pub const PAYMENT_REQUIRED_META_KEY: &str = "org.paymentauth/payment-required";
pub const RECEIPT_META_KEY: &str = "org.paymentauth/receipt";
/// The problem types' base (draft-ryan-httpauth-payment, "Error Responses").
pub const PROBLEM_BASE: &str = "https://paymentauth.org/problems/";

/// One `Payment` challenge, as issued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MppChallenge {
    pub id: String,
    pub realm: String,
    /// The `request` JSON, canonical (RFC 8785), and its base64url as the header writes it.
    pub request_json: String,
    pub request: String,
    pub expires: String,
    pub digest: Option<String>,
    pub opaque: String,
}

/// What a challenge is issued for.
pub struct Issue<'a> {
    pub keys: &'a KeyRing,
    pub realm: &'a str,
    pub route: &'a str,
    pub chain_id: u64,
    pub requirement: &'a Requirement,
    /// Until when the challenge may be answered (the challenge TTL from now).
    pub expires_ms: u64,
    /// The body's `digest`, over HTTP; none inside MCP, where the retry's body differs.
    pub digest: Option<String>,
}

/// The `request` of a charge of `req`, in RFC 8785 form (keys sorted, no whitespace), written
/// by hand so that no map ordering of the JSON library decides the bytes the id binds.
pub fn request_json(req: &Requirement, chain_id: u64) -> String {
    format!(
        "{{\"amount\":\"{}\",\"currency\":{},\"methodDetails\":{{\"chainId\":{chain_id},\"credentialTypes\":[\"{CREDENTIAL_TYPE}\"]}},\"recipient\":{}}}",
        decimal(req.amount),
        Value::from(req.asset.as_str()),
        Value::from(req.pay_to.as_str()),
    )
}

/// `opaque`: base64url of `{"route": …}` in RFC 8785 form.
pub fn opaque_for(route: &str) -> String {
    b64url(format!("{{\"route\":{}}}", Value::from(route)).as_bytes())
}

impl MppChallenge {
    pub fn issue(i: &Issue) -> Self {
        let request_json = request_json(i.requirement, i.chain_id);
        let request = b64url(request_json.as_bytes());
        let expires = rfc3339(i.expires_ms);
        let opaque = opaque_for(i.route);
        let id = challenge_id(
            i.keys,
            &Bound {
                realm: i.realm,
                method: METHOD,
                intent: INTENT,
                request: &request,
                expires: &expires,
                digest: i.digest.as_deref().unwrap_or(""),
                opaque: &opaque,
            },
        );
        Self {
            id,
            realm: i.realm.to_string(),
            request_json,
            request,
            expires,
            digest: i.digest.clone(),
            opaque,
        }
    }

    /// The `WWW-Authenticate` value. Every value is a quoted string of characters that need no
    /// escaping (base64url, RFC 3339, a host), so none is escaped.
    pub fn header(&self) -> String {
        let mut line = format!(
            "{SCHEME} id=\"{}\", realm=\"{}\", method=\"{METHOD}\", intent=\"{INTENT}\", request=\"{}\"",
            self.id, self.realm, self.request
        );
        if let Some(digest) = &self.digest {
            line.push_str(&format!(", digest=\"{digest}\""));
        }
        line.push_str(&format!(
            ", expires=\"{}\", opaque=\"{}\"",
            self.expires, self.opaque
        ));
        line
    }

    /// The challenge as MCP carries it: the same parameters, `request` as its JSON object.
    pub fn to_json(&self) -> Value {
        let request: Value = serde_json::from_str(&self.request_json).unwrap_or(Value::Null);
        let mut o = object([
            ("id", self.id.as_str().into()),
            ("realm", self.realm.as_str().into()),
            ("method", METHOD.into()),
            ("intent", INTENT.into()),
            ("request", request),
            ("expires", self.expires.as_str().into()),
            ("opaque", self.opaque.as_str().into()),
        ]);
        if let (Some(digest), Some(m)) = (&self.digest, o.as_object_mut()) {
            m.insert("digest".into(), digest.as_str().into());
        }
        o
    }

    /// The body's copy of the offer, for agents that read bodies.
    pub fn offer_json(&self) -> Value {
        let mut o = self.to_json();
        if let Some(m) = o.as_object_mut() {
            m.insert("type".into(), MPP_TYPE.into());
            m.insert("header".into(), "WWW-Authenticate".into());
        }
        o
    }

    /// `_meta["org.paymentauth/payment-required"]` of an MCP answer that asks for payment.
    pub fn payment_required_meta(&self) -> Value {
        object([
            ("httpStatus", 402.into()),
            ("challenges", vec![self.to_json()].into()),
        ])
    }
}

/// A settled charge's receipt: `{method, reference, status, timestamp}`, plus `challengeId`.
pub fn receipt(transaction: &str, challenge_id: &str, now_ms: u64) -> Value {
    object([
        ("method", METHOD.into()),
        ("reference", transaction.into()),
        ("status", "success".into()),
        ("timestamp", rfc3339(now_ms).into()),
        ("challengeId", challenge_id.into()),
    ])
}

/// The `Payment-Receipt` header: base64url of the receipt's JSON.
pub fn receipt_header(receipt: &Value) -> String {
    b64url(receipt.to_string().as_bytes())
}

/// The chain id of a CAIP-2 EVM network (`eip155:<id>`).
pub fn chain_id(network: &str) -> Option<u64> {
    network.strip_prefix("eip155:")?.parse().ok()
}
