//! The denials no payment can lift (a per-tool limit, an address ceiling, a budget of refused
//! payments): a `429` with the reset of the counters that said no. Used by every step that
//! counts, so that none of them depends on the answer step.

use gatehouse_core::metering::quota::{Check, Decision, Policy};
use gatehouse_core::policy::Route;
use gatehouse_core::rails::challenge::VERIFY_PATH;
use gatehouse_core::wire::denial::{Answer, Denial};

use super::Pass;

/// A denial no payment can lift (a per-tool limit, an address ceiling): 429 with its reset.
pub(super) fn too_many(checks: &[Check], decision: Decision, p: &Pass) -> Denial {
    Denial::QuotaExhausted {
        policy: shown_policy(checks, p.route),
        decision,
        offers: Vec::new(),
        verify_url: format!("{}{VERIFY_PATH}", p.facts.audience),
        answer: Answer::TooManyRequests,
    }
}

/// Every window of every check, for the `RateLimit-Policy` header.
pub(super) fn shown_policy(checks: &[Check], route: &Route) -> Policy {
    Policy::new(
        checks
            .iter()
            .flat_map(|c| c.policy.windows().to_vec())
            .collect(),
    )
    .unwrap_or_else(|| route.quota.clone())
}
