//! Bounds on what one request, paid or not, may make the gateway do (docs/threat-model.md):
//! how many JSON-RPC calls one body may hold (413 past it, `MAX_BATCH_CALLS`) and how often a
//! client may attempt a redemption (429 past it, `REDEEM_PER_MINUTE`).

use crate::metering::quota::{Check, Decision, Policy};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_batch_calls: usize,
    pub redemptions: Policy,
    /// Calls per client whatever they weigh: a call weighed at nothing (`tools/list`) is free
    /// against the quota, never unlimited (`CALL_CEILING_PER_MINUTE`, 429 past it).
    pub call_ceiling: Policy,
}

const CEILING_COUNTER: &str = "limit:calls";
const CEILING_WINDOW: &str = "calls";

/// The decision as the client is told it: the call ceiling is a backstop, not a quota to plan
/// by, so its window is left out of the rate-limit headers unless it is what refused.
pub fn without_ceiling(mut decision: Decision) -> Decision {
    if !decision.denied_by.iter().any(|c| c == CEILING_COUNTER) {
        decision.windows.retain(|w| w.name != CEILING_WINDOW);
    }
    decision
}

/// The call ceiling's check for a request of `calls` calls (a request without one counts one):
/// named as a limit, so that its denial is a `429` (no payment lifts it).
pub fn call_ceiling_check(limits: &RequestLimits, calls: usize) -> Check {
    Check {
        counter: CEILING_COUNTER.into(),
        policy: limits.call_ceiling.clone(),
        cost: u32::try_from(calls.max(1)).unwrap_or(u32::MAX),
    }
}

pub const DEFAULT_MAX_BATCH_CALLS: u32 = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::quota::{decide_all, Window};
    use crate::policy::charge::LIMIT_PREFIX;

    fn limits(q: u32) -> RequestLimits {
        let per_minute = |name, q| Policy::new(vec![Window::new(name, q, 60).unwrap()]).unwrap();
        RequestLimits {
            max_batch_calls: 64,
            redemptions: per_minute("redeem", 30),
            call_ceiling: per_minute(CEILING_WINDOW, q),
        }
    }

    #[test]
    fn the_ceiling_is_a_limit_and_shown_only_when_it_refuses() {
        assert!(
            CEILING_COUNTER.starts_with(LIMIT_PREFIX),
            "a limit: paying cannot lift it"
        );
        let route = Check {
            counter: "route:main".into(),
            policy: Policy::new(vec![Window::new("minute", 1_000, 60).unwrap()]).unwrap(),
            cost: 1,
        };
        let checks = [route, call_ceiling_check(&limits(2), 1)];
        let (states, first) = decide_all(&checks, &Default::default(), 0);
        let shown = without_ceiling(first);
        assert!(shown.windows.iter().all(|w| w.name == "minute"));
        let (states, _) = decide_all(&checks, &states, 1);
        let (_, refused) = decide_all(&checks, &states, 2);
        assert!(!refused.allowed);
        assert!(without_ceiling(refused)
            .windows
            .iter()
            .any(|w| w.name == CEILING_WINDOW));
    }
}
