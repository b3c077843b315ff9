//! x402 v2 at quota exhaustion (docs/PROTOCOL.md §8): the `exact` scheme on an EVM network,
//! paid with an EIP-3009 `transferWithAuthorization` and checked by a facilitator.
//!
//! Specifications followed: the x402 v2 core types (`PaymentRequired`, `PaymentRequirements`,
//! `PaymentPayload`, `SettlementResponse`), the HTTP transport (`PAYMENT-REQUIRED`,
//! `PAYMENT-SIGNATURE` and `PAYMENT-RESPONSE` headers, each base64 of JSON) and the `exact` scheme
//! on EVM (x402-foundation/x402 `specs/`). Networks are CAIP-2 (`eip155:<chain id>`).
//!
//! What one payment buys: the one request it is presented with. Its amount is the configured
//! per-call price times the request's call cost (`policy::charge::credential_cost`), the same
//! units every other credential pays with, so a stock client pays what the 402 asked and a batch
//! pays for each call in it. Nothing is minted or stored to make an offer: the requirement is a
//! pure function of the configuration and the request.
//!
//! Everything here is pure; the shell carries the payload to the facilitator and back.

pub mod facilitator;
pub mod mcp;
pub mod payload;
pub mod rejection;
#[cfg(test)]
mod tests;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::json_object::object;

pub use rejection::{Refusal, Rejection};

/// The x402 v2 HTTP transport's headers.
pub const PAYMENT_REQUIRED_HEADER: &str = "payment-required";
pub const PAYMENT_SIGNATURE_HEADER: &str = "payment-signature";
pub const PAYMENT_RESPONSE_HEADER: &str = "payment-response";

/// The protocol version this gateway speaks, and the one scheme it accepts.
pub const X402_VERSION: u64 = 2;
pub const SCHEME: &str = "exact";
/// The `type` of an x402 offer in a 402 body's `challenges`.
pub const X402_TYPE: &str = "x402";
/// The one transfer method accepted: EIP-3009, which needs no allowance and is single-use by
/// the token contract's own nonce.
pub const TRANSFER_METHOD: &str = "eip3009";

/// What an operator sells past the quota, read from the configuration (`X402_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X402Settings {
    /// CAIP-2, `eip155:<chain id>`.
    pub network: String,
    /// The token contract, `0x` and 40 hex digits.
    pub asset: String,
    pub pay_to: String,
    /// Atomic units of the asset per unit of call cost.
    pub price_per_call: u64,
    /// The token's EIP-712 domain name and version, which the client signs over.
    pub asset_name: String,
    pub asset_version: String,
    /// How long a client has to pay, which bounds the authorization's validity it signs.
    pub max_timeout_s: u32,
}

/// One `PaymentRequirements` of the `exact` scheme, as offered and as checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub network: String,
    pub asset: String,
    pub pay_to: String,
    /// Atomic units, exactly what the authorization must transfer.
    pub amount: u128,
    pub max_timeout_s: u32,
    pub asset_name: String,
    pub asset_version: String,
}

/// An x402 offer of a 402: the requirement, and the resource it pays for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct X402Offer {
    pub resource: String,
    pub requirement: Requirement,
}

impl X402Settings {
    /// The requirement for a request of this call cost: `price_per_call × cost`.
    pub fn requirement(&self, cost: u32) -> Requirement {
        Requirement {
            network: self.network.clone(),
            asset: self.asset.clone(),
            pay_to: self.pay_to.clone(),
            amount: u128::from(self.price_per_call) * u128::from(cost),
            max_timeout_s: self.max_timeout_s,
            asset_name: self.asset_name.clone(),
            asset_version: self.asset_version.clone(),
        }
    }
}

impl Requirement {
    /// The `PaymentRequirements` object, in the wire's field names. `extra` carries the token's
    /// EIP-712 domain, which the `exact` scheme on EVM requires for EIP-3009.
    pub fn to_json(&self) -> Value {
        let extra = object([
            ("name", self.asset_name.as_str().into()),
            ("version", self.asset_version.as_str().into()),
            ("assetTransferMethod", TRANSFER_METHOD.into()),
        ]);
        object([
            ("scheme", SCHEME.into()),
            ("network", self.network.as_str().into()),
            ("asset", self.asset.as_str().into()),
            ("amount", decimal(self.amount).into()),
            ("payTo", self.pay_to.as_str().into()),
            ("maxTimeoutSeconds", self.max_timeout_s.into()),
            ("extra", extra),
        ])
    }
}

impl X402Offer {
    /// The `PaymentRequired` object; `error` says why a payment was refused, if one was.
    pub fn payment_required(&self, error: Option<&str>) -> Value {
        let resource = object([
            ("url", self.resource.as_str().into()),
            (
                "description",
                "MCP calls past the gateway's quota, paid per call".into(),
            ),
            ("mimeType", "application/json".into()),
        ]);
        let mut required = object([
            ("x402Version", X402_VERSION.into()),
            ("resource", resource),
            ("accepts", vec![self.requirement.to_json()].into()),
        ]);
        if let (Some(error), Some(o)) = (error, required.as_object_mut()) {
            o.insert("error".into(), error.into());
        }
        required
    }

    /// The `PAYMENT-REQUIRED` header's value: base64 of the `PaymentRequired` JSON.
    pub fn header(&self, error: Option<&str>) -> String {
        encode(&self.payment_required(error))
    }
}

/// Standard base64 (with padding) of a JSON value, as every x402 header carries it.
pub fn encode(value: &Value) -> String {
    B64.encode(value.to_string())
}

/// Whether `s` is an EVM address: `0x` and 40 hex digits, in any case.
pub fn is_address(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Two addresses are the same whatever their EIP-55 capitalisation.
pub fn same_address(a: &str, b: &str) -> bool {
    is_address(a) && is_address(b) && a.eq_ignore_ascii_case(b)
}

/// Whether `s` names an EVM network in CAIP-2: `eip155:` and a decimal chain id.
pub fn is_evm_network(s: &str) -> bool {
    s.strip_prefix("eip155:").is_some_and(|id| {
        !id.is_empty()
            && id.len() <= 20
            && id.bytes().all(|b| b.is_ascii_digit())
            && !id.starts_with('0')
    })
}

/// An amount in decimal, as x402 writes them. By hand, in 32-bit steps: the standard library's
/// `u128` formatting (and the 128-bit division it would otherwise take) is ~1.3 KB of Wasm.
pub fn decimal(mut n: u128) -> String {
    let mut digits = Vec::new();
    loop {
        let (mut quotient, mut rest) = (0u128, 0u64);
        for shift in [96, 64, 32, 0] {
            let part = (rest << 32) | ((n >> shift) as u64 & 0xffff_ffff);
            quotient |= u128::from(part / 10) << shift;
            rest = part % 10;
        }
        digits.push(b'0' + rest as u8);
        n = quotient;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().map(|d| char::from(*d)).collect()
}

/// A canonical decimal amount (no sign, no leading zero, no exponent), as x402 writes them.
pub fn parse_amount(s: &str) -> Option<u128> {
    let canonical = !s.is_empty()
        && s.len() <= 39
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}
