//! Bounds on what one request, paid or not, may make the gateway do (README "Threat model"):
//! how many JSON-RPC calls one body may hold (413 past it, `MAX_BATCH_CALLS`) and how often a
//! client may attempt a redemption (429 past it, `REDEEM_PER_MINUTE`).

use crate::policy::charge::LIMIT_PREFIX;
use crate::quota::{Check, Policy};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_batch_calls: usize,
    pub redemptions: Policy,
    /// Calls per client whatever they weigh: a call weighed at nothing (`tools/list`) is free
    /// against the quota, never unlimited (`CALL_CEILING_PER_MINUTE`, 429 past it).
    pub call_ceiling: Policy,
}

/// The call ceiling's check for a request of `calls` calls (a request without one counts one):
/// named as a limit, so that its denial is a `429` (no payment lifts it).
pub fn call_ceiling_check(limits: &RequestLimits, calls: usize) -> Check {
    Check {
        counter: format!("{LIMIT_PREFIX}calls"),
        policy: limits.call_ceiling.clone(),
        cost: u32::try_from(calls.max(1)).unwrap_or(u32::MAX),
    }
}

pub const DEFAULT_MAX_BATCH_CALLS: u32 = 64;
