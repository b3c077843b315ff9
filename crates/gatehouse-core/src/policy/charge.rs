//! What a request costs: its calls priced by the route's cost rules against the route's quota,
//! plus a check on each limit whose pattern a call matches. A batch counts each call; a request
//! without JSON-RPC calls (an SSE `GET`, a session `DELETE`) costs one unit.

use super::{Route, Rule, Target};
use crate::mcp::Call;
use crate::quota::Check;

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

pub fn weight(route: &Route, call: &Call) -> u32 {
    route
        .costs
        .iter()
        .find(|c| matches(&c.rule, call))
        .map_or(1, |c| c.weight)
}

pub fn checks(route: &Route, calls: &[Call]) -> Vec<Check> {
    let cost = if calls.is_empty() {
        1
    } else {
        calls
            .iter()
            .map(|c| weight(route, c))
            .fold(0u32, u32::saturating_add)
    };
    let mut out = vec![Check {
        counter: format!("route:{}", route.name),
        policy: route.quota.clone(),
        cost,
    }];
    for limit in &route.limits {
        let n = calls.iter().filter(|c| matches(&limit.rule, c)).count() as u32;
        if n > 0 {
            out.push(Check {
                counter: format!("limit:{}:{}", route.name, limit.name),
                policy: limit.policy.clone(),
                cost: n,
            });
        }
    }
    out
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
    fn a_batch_counts_each_call_and_meets_each_matching_limit() {
        let routes = policy_routes();
        let batch = [
            call("tools/call", Some("heavy_a")),
            call("tools/call", Some("heavy_b")),
            call("tools/call", Some("echo")),
        ];
        let c = checks(&routes[0], &batch);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].counter.as_str(), c[0].cost), ("route:files", 21));
        assert_eq!((c[1].counter.as_str(), c[1].cost), ("limit:files:heavy", 2));
    }

    #[test]
    fn a_request_without_calls_costs_one() {
        let routes = policy_routes();
        assert_eq!(checks(&routes[0], &[])[0].cost, 1);
    }
}
