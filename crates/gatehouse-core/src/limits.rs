//! Bounds on what one request, paid or not, may make the gateway do (README "Threat model"):
//! how many JSON-RPC calls one body may hold (413 past it, `MAX_BATCH_CALLS`) and how often a
//! client may attempt a redemption (429 past it, `REDEEM_PER_MINUTE`).

use crate::policy::charge::LIMIT_PREFIX;
use crate::quota::{Check, Policy, Window};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_batch_calls: usize,
    pub redemptions: Policy,
    /// Requests per client whatever their calls weigh: a call weighed at nothing (`tools/list`)
    /// is free against the quota, never unlimited (`REQUEST_FLOOR_PER_MINUTE`, 429 past it).
    pub request_floor: Policy,
}

/// The floor's check: named as a limit, so that its denial is a `429` (no payment lifts it).
pub fn request_floor_check(limits: &RequestLimits) -> Check {
    Check {
        counter: format!("{LIMIT_PREFIX}requests"),
        policy: limits.request_floor.clone(),
        cost: 1,
    }
}

pub const DEFAULT_MAX_BATCH_CALLS: u32 = 64;

/// New challenges (rows, invoices) one address may cause per minute under an unverified rate
/// key, where every header value is a new client with nothing outstanding to be offered again.
pub const MINTS_PER_ADDRESS_PER_MINUTE: u32 = 20;

pub fn mints_per_address() -> Policy {
    Policy::new(
        Window::new("mints", MINTS_PER_ADDRESS_PER_MINUTE, 60)
            .into_iter()
            .collect(),
    )
    .unwrap_or_else(|| unreachable!("a non-zero window"))
}
