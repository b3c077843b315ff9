//! A refused MPP credential as RFC 9457 problem details (draft-ryan-httpauth-payment, "Error
//! Responses"): one problem type per reason, each answered with a fresh challenge so that the
//! client can pay again. The reasons are the rail's (`x402::Rejection`); this is their one
//! mapping to MPP's types.

use serde_json::Value;

use super::PROBLEM_BASE;
use crate::rails::x402::Rejection;
use crate::wire::json_object::object;

/// The problem type's slug and title of a refusal.
pub fn kind(rejection: &Rejection) -> (&'static str, &'static str) {
    match rejection {
        Rejection::Malformed(_) => ("malformed-credential", "Malformed Credential"),
        Rejection::Challenge(_) => ("invalid-challenge", "Invalid Challenge"),
        Rejection::ChallengeExpired | Rejection::Expired => ("payment-expired", "Payment Expired"),
        Rejection::MethodUnsupported | Rejection::Version | Rejection::Scheme => {
            ("method-unsupported", "Method Unsupported")
        }
        Rejection::Amount => ("payment-insufficient", "Payment Insufficient"),
        Rejection::Network
        | Rejection::Asset
        | Rejection::PayTo
        | Rejection::NotYetValid
        | Rejection::ValidTooLong
        | Rejection::Replayed
        | Rejection::Refused(_)
        | Rejection::SettleFailed(_) => ("verification-failed", "Verification Failed"),
    }
}

/// The problem details body; `challenge_id` is the fresh challenge's.
pub fn body(rejection: &Rejection, challenge_id: Option<&str>) -> Value {
    let (slug, title) = kind(rejection);
    // `error` and `reason` are extension members (RFC 9457 §3.2): the gateway's own error name
    // and the rail's reason code, as every other answer of the gateway carries them.
    let mut problem = object([
        ("type", format!("{PROBLEM_BASE}{slug}").into()),
        ("error", "payment_refused".into()),
        ("title", title.into()),
        ("status", 402.into()),
        ("detail", rejection.message().into()),
        ("reason", rejection.code().into()),
    ]);
    if let (Some(id), Some(o)) = (challenge_id, problem.as_object_mut()) {
        o.insert("challengeId".into(), id.into());
    }
    problem
}
