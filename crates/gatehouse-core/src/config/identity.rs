//! Reads who a client is counted as (`crate::credentials::identity`) and the limits on what an unpaid request
//! may cost the operator (`crate::metering::limits`; docs/threat-model.md), from:
//! - `RATE_KEY_HEADER`: the header carrying a gateway-issued API key (`api_key.rs`). Unset: clients
//!   are keyed by address.
//! - `RATE_KEY_UNVERIFIED=true`: count the header's value as it arrives, unchecked. Safe only
//!   behind a proxy that authenticates clients and sets the header itself; a per-address ceiling
//!   (`ADDRESS_CEILING_PER_MINUTE`) still applies, so rotating values buys nothing past it.
//! - `KEY_TIERS`: quotas by tier for API keys (`free=60/60,pro=600/60`); a key whose tier is not
//!   listed gets its route's quota.
//! - `IPV6_PREFIX_BITS`: the prefix IPv6 clients are aggregated to (default 64).
//! - `CLIENT_ADDRESS_HEADER`: where the client's address can be believed from: `cf-connecting-ip`
//!   (the default on Cloudflare; believed only on requests the edge handled), the header a
//!   self-hosted gateway's own proxy overwrites, or `none` (the default under `LOCAL_DEV`, whose
//!   runtime lets a client set `CF-Connecting-IP` itself).
//! - `MAX_BATCH_CALLS`: the most JSON-RPC calls one body may hold (413 past it).
//! - `REDEEM_PER_MINUTE`: redemption attempts per client per minute (429 past it).

use super::oauth::read_tiers;
use super::Reader;
use crate::address::DEFAULT_IPV6_PREFIX_BITS;
use crate::credentials::identity::{AddressSource, IdentitySettings, RateKey};
use crate::metering::limits::{RequestLimits, DEFAULT_MAX_BATCH_CALLS};
use crate::metering::quota::{Policy, Window};

pub(super) fn read_identity(
    r: &mut Reader,
    header: Option<String>,
    address_header: Option<String>,
    local_dev: bool,
) -> IdentitySettings {
    let unverified = r.flag("RATE_KEY_UNVERIFIED", false);
    let ceiling = r.number("ADDRESS_CEILING_PER_MINUTE", 600, 1..=1_000_000);
    let mints = r.number("ADDRESS_MINTS_PER_MINUTE", 20, 1..=100_000);
    let ipv6_prefix_bits = r.number(
        "IPV6_PREFIX_BITS",
        u32::from(DEFAULT_IPV6_PREFIX_BITS),
        32..=128,
    ) as u8;
    if unverified && header.is_none() {
        r.problem("RATE_KEY_UNVERIFIED is set but RATE_KEY_HEADER is not".into());
    }
    let rate_key = match header {
        None => RateKey::Address,
        Some(header) if unverified => RateKey::Unverified {
            header,
            ceiling: per_minute("address", ceiling),
            mints: per_minute("mints", mints),
        },
        Some(header) => RateKey::IssuedKey { header },
    };
    let key_tiers = match r.text("KEY_TIERS") {
        Some(_) => read_tiers(r, "KEY_TIERS", "").unwrap_or_default(),
        None => Vec::new(),
    };
    let address = match address_header.as_deref() {
        None if local_dev => AddressSource::Untrusted,
        None | Some("cf-connecting-ip") => AddressSource::Cloudflare,
        Some("none") => AddressSource::Untrusted,
        Some(name) => AddressSource::Header(name.into()),
    };
    IdentitySettings {
        rate_key,
        address,
        ipv6_prefix_bits,
        key_tiers,
    }
}

pub(super) fn read_limits(r: &mut Reader) -> RequestLimits {
    RequestLimits {
        max_batch_calls: r.number("MAX_BATCH_CALLS", DEFAULT_MAX_BATCH_CALLS, 1..=10_000) as usize,
        redemptions: per_minute("redeem", r.number("REDEEM_PER_MINUTE", 30, 1..=100_000)),
        call_ceiling: per_minute(
            "calls",
            r.number("CALL_CEILING_PER_MINUTE", 600, 1..=1_000_000),
        ),
    }
}

fn per_minute(name: &str, quota: u32) -> Policy {
    // Both numbers are range-checked above 0, so the window exists.
    Policy::new(Window::new(name, quota.max(1), 60).into_iter().collect())
        .unwrap_or_else(|| unreachable!("a non-zero window"))
}
