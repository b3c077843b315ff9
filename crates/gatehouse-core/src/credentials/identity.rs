//! Who a client is counted as (docs/threat-model.md): its address, a gateway-issued API key
//! (`api_key.rs`), or a header's value taken on trust under a per-address ceiling. `config` reads
//! these from `RATE_KEY_HEADER`, `RATE_KEY_UNVERIFIED`, `KEY_TIERS` and `IPV6_PREFIX_BITS`.

use crate::metering::quota::{Policy, Tier};

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

/// Where a client's address comes from, which decides whether it can be believed
/// (`CLIENT_ADDRESS_HEADER`; docs/threat-model.md). An address a client can write itself is no
/// identity: every value would be a fresh quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressSource {
    /// `CF-Connecting-IP`, which Cloudflare's edge sets on every request it forwards, overwriting
    /// whatever the client sent. Believed only on a request that carries the edge's `cf` object:
    /// a self-hosted workerd has none, and passes the client's header through as it came.
    Cloudflare,
    /// A header that the operator's own proxy in front of a self-hosted gateway overwrites.
    Header(String),
    /// Nothing here can be believed (local development, where the runtime sets
    /// `CF-Connecting-IP` only when the client has not): every client known only by its address
    /// is one client.
    Untrusted,
}

/// The rate key of every client whose address cannot be believed.
pub const UNATTRIBUTED: &str = "ip:unattributed";

impl AddressSource {
    /// The header to read the address from, if any can be believed on this request;
    /// `via_edge` is whether the request carries Cloudflare's `cf` object.
    pub fn trusted_header(&self, via_edge: bool) -> Option<&str> {
        match self {
            Self::Cloudflare if via_edge => Some("cf-connecting-ip"),
            Self::Header(name) => Some(name),
            Self::Cloudflare | Self::Untrusted => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySettings {
    pub rate_key: RateKey,
    pub address: AddressSource,
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
