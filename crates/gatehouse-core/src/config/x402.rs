//! The x402 settings (`X402_*`, docs/PROTOCOL.md §8), read only when a route offers x402: then
//! every one of them is required, and a facilitator URL follows the same SSRF rules as an origin.

use super::reader::Reader;
use crate::origin::{parse_origin, OriginUrl};
use crate::rails::x402::{is_address, is_evm_network, X402Settings};

#[derive(Clone, PartialEq, Eq)]
pub struct X402Config {
    pub settings: X402Settings,
    /// The facilitator's base URL; `/verify` and `/settle` are under it.
    pub facilitator_url: OriginUrl,
    /// An `Authorization` value for facilitators that require one (a secret).
    pub facilitator_auth: Option<String>,
    /// How long the gateway waits for `/verify` or `/settle` before answering 503.
    pub timeout_ms: u32,
}

impl std::fmt::Debug for X402Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        write!(
            f,
            "X402Config({} {} to {}, {} per call, facilitator {})",
            s.network, s.asset, s.pay_to, s.price_per_call, self.facilitator_url.authority_url
        )
    }
}

fn address(r: &mut Reader, name: &str) -> Option<String> {
    let raw = r.required(name)?;
    if is_address(&raw) {
        Some(raw)
    } else {
        r.problem(format!("{name}={raw:?} must be 0x and 40 hex digits"));
        None
    }
}

fn label(r: &mut Reader, name: &str) -> Option<String> {
    let raw = r.required(name)?;
    if raw.len() <= 64 && raw.chars().all(|c| !c.is_control()) {
        Some(raw)
    } else {
        r.problem(format!("{name} must be at most 64 printable characters"));
        None
    }
}

pub(super) fn read_x402(r: &mut Reader, local_dev: bool) -> Option<X402Config> {
    let network = r.required("X402_NETWORK");
    if let Some(n) = network.as_ref().filter(|n| !is_evm_network(n)) {
        r.problem(format!(
            "X402_NETWORK={n:?} must be a CAIP-2 EVM network, eip155:<chain id>"
        ));
    }
    let asset = address(r, "X402_ASSET");
    let pay_to = address(r, "X402_PAY_TO");
    let price = r.required("X402_PRICE_PER_CALL");
    let price_per_call = price
        .as_ref()
        .and_then(|p| p.parse::<u64>().ok().filter(|n| *n > 0));
    if let (Some(raw), None) = (&price, price_per_call) {
        r.problem(format!(
            "X402_PRICE_PER_CALL={raw:?} must be a whole number of the asset's atomic units, at least 1"
        ));
    }
    let asset_name = label(r, "X402_ASSET_NAME");
    let asset_version = label(r, "X402_ASSET_VERSION");
    let max_timeout_s = r.number("X402_MAX_TIMEOUT_SECONDS", 60, 10..=3_600);
    let facilitator_url = r.required("X402_FACILITATOR_URL").and_then(|raw| {
        parse_origin(&raw, local_dev)
            .map_err(|p| r.problem(format!("X402_FACILITATOR_URL={raw:?} {}", p.describe())))
            .ok()
    });
    let timeout_ms = r.number("X402_FACILITATOR_TIMEOUT_MS", 10_000, 100..=60_000);
    let facilitator_auth = r.text("X402_FACILITATOR_AUTH");
    if facilitator_auth
        .as_ref()
        .is_some_and(|a| a.chars().any(|c| c.is_control()))
    {
        r.problem("X402_FACILITATOR_AUTH holds a control character".into());
    }
    Some(X402Config {
        settings: X402Settings {
            network: network.filter(|n| is_evm_network(n))?,
            asset: asset?,
            pay_to: pay_to?,
            price_per_call: price_per_call?,
            asset_name: asset_name?,
            asset_version: asset_version?,
            max_timeout_s,
        },
        facilitator_url: facilitator_url?,
        facilitator_auth,
        timeout_ms,
    })
}
