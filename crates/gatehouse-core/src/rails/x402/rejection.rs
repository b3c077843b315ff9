//! Every reason a payment on the EIP-3009 rail is refused, whichever protocol carried it (x402 or
//! MPP), and its one mapping to each wire. The codes are the x402 v2 specification's own where it
//! has one (§9 "Error Handling"), so a client that knows them reads ours; over x402 a malformed
//! payload is `400` (HTTP transport, "Invalid Payment"), every other refusal `402` with a fresh
//! `PAYMENT-REQUIRED` whose `error` names the reason. Over MPP every refusal is a `402` problem
//! with a fresh `Payment` challenge (`mpp::problem`).

use serde_json::Value;

use super::{X402Offer, PAYMENT_REQUIRED_HEADER, PAYMENT_RESPONSE_HEADER};
use crate::wire::json_object::object;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a `PaymentPayload` this gateway can read; the detail is for the client.
    Malformed(&'static str),
    Version,
    Scheme,
    Network,
    Asset,
    PayTo,
    /// The amount accepted or authorized is not exactly the requirement's.
    Amount,
    NotYetValid,
    Expired,
    /// An authorization valid for far longer than the client was given to pay.
    ValidTooLong,
    /// This authorization was already presented here.
    Replayed,
    /// The facilitator found the payment invalid; its reason, sanitized.
    Refused(String),
    /// The facilitator could not settle it; its reason, sanitized.
    SettleFailed(String),
    /// MPP: the echoed challenge is not one this gateway issued for this request.
    Challenge(&'static str),
    /// MPP: the echoed challenge's `expires` has passed.
    ChallengeExpired,
    /// MPP: a method or intent other than `evm`/`charge`.
    MethodUnsupported,
}

impl Rejection {
    pub fn code(&self) -> &str {
        match self {
            Self::Malformed(_) => "invalid_payload",
            Self::Version => "invalid_x402_version",
            Self::Scheme => "unsupported_scheme",
            Self::Network => "invalid_network",
            Self::Asset => "invalid_exact_evm_payload_asset_mismatch",
            Self::PayTo => "invalid_exact_evm_payload_recipient_mismatch",
            Self::Amount => "invalid_exact_evm_payload_authorization_value_mismatch",
            Self::NotYetValid => "invalid_exact_evm_payload_authorization_valid_after",
            Self::Expired => "invalid_exact_evm_payload_authorization_valid_before",
            Self::ValidTooLong => "invalid_exact_evm_payload_authorization_valid_before_too_far",
            Self::Replayed => "payment_already_used",
            Self::Refused(reason) | Self::SettleFailed(reason) => reason,
            Self::Challenge(_) => "invalid_challenge",
            Self::ChallengeExpired => "challenge_expired",
            Self::MethodUnsupported => "method_unsupported",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::Malformed(detail) => detail,
            Self::Version => "only x402Version 2 is accepted",
            Self::Scheme => "only the exact scheme is accepted",
            Self::Network => "the payment is on another network than the one offered",
            Self::Asset => "the payment is in another asset than the one offered",
            Self::PayTo => "the payment is to another address than the one offered",
            Self::Amount => "the amount is not exactly the one offered for this request",
            Self::NotYetValid => "the authorization is not valid yet",
            Self::Expired => "the authorization has expired or expires too soon to settle",
            Self::ValidTooLong => "the authorization is valid for longer than was offered",
            Self::Replayed => "this payment was already used; sign a new one",
            Self::Refused(_) => "the facilitator found the payment invalid",
            Self::SettleFailed(_) => "the facilitator could not settle the payment",
            Self::Challenge(detail) => detail,
            Self::ChallengeExpired => "the challenge has expired; pay the fresh one",
            Self::MethodUnsupported => "only the evm method's charge intent is accepted",
        }
    }
}

/// Keeps a facilitator's reason to what a reason code is made of, so that nothing it says is
/// echoed to a client or a log line unchecked.
pub fn sanitize(reason: Option<&str>) -> String {
    match reason {
        Some(r)
            if !r.is_empty()
                && r.len() <= 80
                && r.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
                }) =>
        {
            r.to_string()
        }
        _ => "unexpected_facilitator_reason".into(),
    }
}

/// A refused payment, with what the client needs to pay again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rejection: Rejection,
    /// The requirement of this request, offered again with the reason as its `error`.
    pub offer: Option<X402Offer>,
    /// The failed `SettlementResponse`, when settling is what failed.
    pub settlement: Option<Value>,
    /// Set when the payment came inside MCP: the refusal is told there too (`x402::mcp`).
    pub in_band: Option<super::mcp::InBandReply>,
}

impl Refusal {
    pub fn to_wire(&self) -> (u16, Value, Vec<(&'static str, String)>) {
        let code = self.rejection.code();
        let status = match self.rejection {
            Rejection::Malformed(_) => 400,
            _ => 402,
        };
        let mut headers = Vec::new();
        if let Some(offer) = &self.offer {
            headers.push((PAYMENT_REQUIRED_HEADER, offer.header(Some(code))));
        }
        if let Some(settlement) = &self.settlement {
            headers.push((PAYMENT_RESPONSE_HEADER, super::encode(settlement)));
        }
        if let Some(reply) = &self.in_band {
            return (200, super::mcp::refusal_response(self, reply), headers);
        }
        let error = match self.rejection {
            Rejection::Malformed(_) => "invalid_x402_payment",
            _ => "payment_refused",
        };
        let body = object([
            ("error", error.into()),
            ("reason", code.into()),
            ("message", self.rejection.message().into()),
        ]);
        (status, body, headers)
    }
}
