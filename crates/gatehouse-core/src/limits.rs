//! Bounds on what one request, paid or not, may make the gateway do (README "Threat model"):
//! how many JSON-RPC calls one body may hold (413 past it, `MAX_BATCH_CALLS`) and how often a
//! client may attempt a redemption (429 past it, `REDEEM_PER_MINUTE`).

use crate::quota::Policy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_batch_calls: usize,
    pub redemptions: Policy,
}

pub const DEFAULT_MAX_BATCH_CALLS: u32 = 64;
