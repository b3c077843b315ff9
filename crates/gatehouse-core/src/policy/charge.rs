//! What a request costs: its calls priced by the route's cost rules against the route's quota,
//! plus a check on each limit whose pattern a call matches. A batch counts each call; a request
//! without JSON-RPC calls (an SSE `GET`, a session `DELETE`) costs one unit.

use super::{Route, Rule, Target};
use crate::mcp::Call;
use crate::metering::quota::Check;

fn matches(rule: &Rule, call: &Call) -> bool {
    match rule.target {
        Target::Method => rule.pattern.matches(&call.method),
        Target::Tool => {
            call.method == "tools/call"
                && call
                    .name
                    .as_deref()
                    .is_some_and(|n| rule.pattern.matches(n))
        }
        Target::Resource => {
            call.method == "resources/read"
                && call
                    .name
                    .as_deref()
                    .is_some_and(|n| rule.pattern.matches(n))
        }
    }
}

/// A call no rule prices weighs one unit, but for `server/discover`, which weighs none: a
/// 2026-07-28 client sends it on every connection and takes any error for a server of an older
/// revision, so charging it would change what a client past its quota negotiates, not only what
/// it pays. It still counts toward the call ceiling (`limits`), like every zero-weight call.
pub fn weight(route: &Route, call: &Call) -> u32 {
    let unpriced = if call.method == "server/discover" {
        0
    } else {
        1
    };
    route
        .costs
        .iter()
        .find(|c| matches(&c.rule, call))
        .map_or(unpriced, |c| c.weight)
}

/// What the request's calls cost, weighed by the route's cost rules. The same price is charged
/// to the quota and to a credential's grant, so that no admission path is cheaper than another.
pub fn cost(route: &Route, calls: &[Call]) -> u32 {
    if calls.is_empty() {
        return 1;
    }
    calls
        .iter()
        .map(|c| weight(route, c))
        .fold(0u32, u32::saturating_add)
}

/// What a request costs a credential: its weighed cost, but at least one unit per call (one for
/// a request without calls). A grant is never a licence for unlimited calls weighed at nothing,
/// and the credential path meets no call ceiling, which would cost it I/O.
pub fn credential_cost(route: &Route, calls: &[Call]) -> u32 {
    cost(route, calls).max(call_count(calls))
}

/// The number of calls, counting a request without any as one.
pub fn call_count(calls: &[Call]) -> u32 {
    u32::try_from(calls.len().max(1)).unwrap_or(u32::MAX)
}

/// One check per per-tool limit that a call of the request matches. These apply on every
/// admission path: a credential pays for the route's quota, never for a limit, which caps how
/// often a tool may run at all.
pub fn limit_checks(route: &Route, calls: &[Call]) -> Vec<Check> {
    route
        .limits
        .iter()
        .filter_map(|limit| {
            let n = calls.iter().filter(|c| matches(&limit.rule, c)).count() as u32;
            (n > 0).then(|| Check {
                counter: format!("{LIMIT_PREFIX}{}:{}", route.name, limit.name),
                policy: limit.policy.clone(),
                cost: n,
            })
        })
        .collect()
}

/// Counters named so are per-tool limits: paying does not lift them.
pub const LIMIT_PREFIX: &str = "limit:";

/// The route's quota check, under `policy` (the route's own, or the caller's tier), then every
/// limit the calls meet.
pub fn checks(
    route: &Route,
    policy: &crate::metering::quota::Policy,
    calls: &[Call],
) -> Vec<Check> {
    let mut out = vec![Check {
        counter: format!("route:{}", route.name),
        policy: policy.clone(),
        cost: cost(route, calls),
    }];
    out.extend(limit_checks(route, calls));
    out
}

/// The checks a request still owes when it reaches the quota. A request whose per-tool limits
/// were charged on the way (a credential that agreed to the limits, then turned out to have less
/// of its grant left) owes the quota alone: a limit caps how often a tool runs, and one run is
/// charged to it once.
pub fn owed(mut checks: Vec<Check>, limits_charged: bool) -> Vec<Check> {
    if limits_charged {
        checks.retain(|c| !c.counter.starts_with(LIMIT_PREFIX));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::tests::policy_routes;

    fn call(method: &str, name: Option<&str>) -> Call {
        Call {
            method: method.into(),
            name: name.map(str::to_string),
            ..Call::default()
        }
    }

    #[test]
    fn calls_are_priced_by_the_first_matching_rule() {
        let routes = policy_routes();
        let r = &routes[0];
        assert_eq!(weight(r, &call("tools/call", Some("heavy_report"))), 10);
        assert_eq!(weight(r, &call("tools/call", Some("echo"))), 1);
        assert_eq!(weight(r, &call("tools/list", None)), 0);
        assert_eq!(weight(r, &call("initialize", None)), 0);
        assert_eq!(weight(r, &call("resources/read", Some("file:///big/x"))), 5);
    }

    #[test]
    fn discovery_is_free_unless_a_rule_prices_it_and_still_meets_the_ceiling() {
        let mut r = policy_routes().remove(0);
        r.costs.clear();
        assert_eq!(weight(&r, &call("server/discover", None)), 0);
        assert_eq!(weight(&r, &call("initialize", None)), 1);
        assert_eq!(cost(&r, &[call("server/discover", None)]), 0);
        assert_eq!(credential_cost(&r, &[call("server/discover", None)]), 1);
        let mut priced = policy_routes().remove(0);
        priced.costs.insert(
            0,
            super::super::CostRule {
                rule: Rule {
                    target: Target::Method,
                    pattern: super::super::Pattern::new("server/discover"),
                },
                weight: 2,
            },
        );
        assert_eq!(weight(&priced, &call("server/discover", None)), 2);
    }

    #[test]
    fn a_batch_counts_each_call_and_meets_each_matching_limit() {
        let routes = policy_routes();
        let batch = [
            call("tools/call", Some("heavy_a")),
            call("tools/call", Some("heavy_b")),
            call("tools/call", Some("echo")),
        ];
        let c = checks(&routes[0], &routes[0].quota, &batch);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].counter.as_str(), c[0].cost), ("route:files", 21));
        assert_eq!((c[1].counter.as_str(), c[1].cost), ("limit:files:heavy", 2));
        // Once the limits were charged, the quota alone is owed; otherwise everything is.
        let after = owed(c.clone(), true);
        assert_eq!(after.len(), 1);
        assert_eq!(
            (after[0].counter.as_str(), after[0].cost),
            ("route:files", 21)
        );
        assert_eq!(owed(c.clone(), false).len(), 2);
    }

    #[test]
    fn a_credential_pays_at_least_a_unit_per_call() {
        let routes = policy_routes();
        let lists = [call("tools/list", None), call("tools/list", None)];
        assert_eq!(cost(&routes[0], &lists), 0, "free against the quota");
        assert_eq!(credential_cost(&routes[0], &lists), 2);
        assert_eq!(credential_cost(&routes[0], &[]), 1);
        let heavy = [call("tools/call", Some("heavy_report"))];
        assert_eq!(
            credential_cost(&routes[0], &heavy),
            10,
            "weights above one still count"
        );
    }

    #[test]
    fn a_request_without_calls_costs_one() {
        let routes = policy_routes();
        assert_eq!(checks(&routes[0], &routes[0].quota, &[])[0].cost, 1);
        assert_eq!(cost(&routes[0], &[]), 1);
        assert!(limit_checks(&routes[0], &[]).is_empty());
    }
}
