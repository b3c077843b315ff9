//! Who a client is counted as (README "Threat model"): its address, a gateway-issued API key
//! (`api_key.rs`), or a header's value taken on trust under a per-address ceiling. `config` reads
//! these from `RATE_KEY_HEADER`, `RATE_KEY_UNVERIFIED`, `KEY_TIERS` and `IPV6_PREFIX_BITS`.

use crate::quota::{Policy, Tier};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// `CF-Connecting-IP`, IPv6 aggregated to a prefix.
    Address,
    /// A gateway-issued API key in this header; anything else is refused with 401.
    IssuedKey { header: String },
    /// The header's value, unchecked, under a per-address ceiling.
    Unverified {
        header: String,
        /// What one address gets through the quota per minute, whatever values it sends.
        ceiling: Policy,
        /// New challenges (rows, invoices) one address may cause per minute: every value is a
        /// new client with nothing outstanding to be offered again.
        mints: Policy,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySettings {
    pub rate_key: RateKey,
    pub ipv6_prefix_bits: u8,
    pub key_tiers: Vec<Tier>,
}

impl IdentitySettings {
    /// The header API keys arrive in, in either mode.
    pub fn key_header(&self) -> Option<&str> {
        match &self.rate_key {
            RateKey::Address => None,
            RateKey::IssuedKey { header } | RateKey::Unverified { header, .. } => Some(header),
        }
    }

    pub fn key_tier(&self, name: &str) -> Option<&Tier> {
        self.key_tiers.iter().find(|t| t.name == name)
    }
}
