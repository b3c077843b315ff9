//! Which answer a client whose quota is spent gets (docs/PROTOCOL.md §1, §4, §5).
//!
//! - A legacy client, or one still in its grace period, gets `429` with `Retry-After`.
//! - A request denied only by per-tool limits gets `429` too: a payment buys past the route's
//!   quota, never past a limit, so offering one would sell something that cannot be delivered.
//! - A client that has not said it handles HTTP 402 (`Gatehouse-Accept: 402`, or MPP's
//!   `Accept-Payment`), on a route with in-band answers (the default), gets them inside MCP, one
//!   per request id (`denial::exhausted`).
//! - Everyone else gets the `402`.

use crate::mcp::revision::Revision;
use crate::mcp::Call;
use crate::policy::charge::LIMIT_PREFIX;
use crate::policy::Route;
use crate::wire::denial::{Answer, InBandCall};
use crate::wire::headers::ACCEPT_402_VALUE;

/// What the answer depends on, read from the request and the quota's reply.
pub struct ExhaustionFacts<'a> {
    pub user_agent: Option<&'a str>,
    /// The `Gatehouse-Accept` header.
    pub accepts: Option<&'a str>,
    /// Whether the request carries `Accept-Payment` (MPP): its client pays HTTP `Payment`
    /// challenges, so it handles a 402.
    pub accepts_payment: bool,
    /// Whether the body was a JSON-RPC batch (an array).
    pub batch: bool,
    pub calls: &'a [Call],
    /// The counters that denied the request.
    pub denied_by: &'a [String],
    pub first_seen_ms: u64,
    pub now_ms: u64,
    /// The `MCP-Protocol-Version` header.
    pub protocol_version: Option<&'a str>,
}

pub fn answer(route: &Route, f: &ExhaustionFacts) -> Answer {
    let legacy_agent = f
        .user_agent
        .is_some_and(|ua| route.legacy.user_agents.iter().any(|p| p.matches(ua)));
    let in_grace =
        f.now_ms.saturating_sub(f.first_seen_ms) < u64::from(route.legacy.grace_s) * 1_000;
    let limits_only =
        !f.denied_by.is_empty() && f.denied_by.iter().all(|c| c.starts_with(LIMIT_PREFIX));
    if legacy_agent || in_grace || limits_only {
        return Answer::TooManyRequests;
    }
    let accepts_402 = f.accepts_payment
        || f.accepts
            .is_some_and(|v| v.split(',').any(|p| p.trim() == ACCEPT_402_VALUE));
    let calls: Vec<InBandCall> = f
        .calls
        .iter()
        .filter_map(|c| {
            let id = c.id.clone()?;
            let tool_call = c.method == "tools/call";
            Some(InBandCall { id, tool_call })
        })
        .collect();
    if route.in_band && !accepts_402 && !calls.is_empty() {
        let meta = f.calls.iter().find_map(|c| c.revision.as_deref());
        return Answer::InBand {
            calls,
            batch: f.batch,
            revision: Revision::of(f.protocol_version, meta),
        };
    }
    Answer::PaymentRequired
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::tests::policy_routes;
    use serde_json::json;

    fn facts<'a>(calls: &'a [Call], denied_by: &'a [String]) -> ExhaustionFacts<'a> {
        ExhaustionFacts {
            user_agent: Some("agent/1"),
            accepts: None,
            accepts_payment: false,
            batch: false,
            calls,
            denied_by,
            first_seen_ms: 0,
            now_ms: 1_000_000,
            protocol_version: None,
        }
    }

    fn route() -> Route {
        let mut r = policy_routes().remove(0);
        r.in_band = false;
        r.legacy.grace_s = 0;
        r.legacy.user_agents.clear();
        r
    }

    #[test]
    fn a_spent_quota_is_a_402() {
        let denied = ["route:files".to_string()];
        assert_eq!(
            answer(&route(), &facts(&[], &denied)),
            Answer::PaymentRequired
        );
    }

    #[test]
    fn a_request_denied_only_by_a_limit_is_a_429_since_paying_cannot_lift_it() {
        let denied = ["limit:files:heavy".to_string()];
        assert_eq!(
            answer(&route(), &facts(&[], &denied)),
            Answer::TooManyRequests
        );
        let both = ["route:files".to_string(), "limit:files:heavy".to_string()];
        assert_eq!(
            answer(&route(), &facts(&[], &both)),
            Answer::PaymentRequired
        );
    }

    #[test]
    fn a_client_in_its_grace_period_gets_a_429() {
        let mut r = route();
        r.legacy.grace_s = 10;
        let denied = ["route:files".to_string()];
        let f = ExhaustionFacts {
            first_seen_ms: 995_000,
            ..facts(&[], &denied)
        };
        assert_eq!(answer(&r, &f), Answer::TooManyRequests);
    }

    #[test]
    fn in_band_routes_answer_per_request_id_unless_the_client_accepts_402() {
        let mut r = route();
        r.in_band = true;
        let calls = [Call {
            method: "tools/call".into(),
            id: Some(json!(4)),
            ..Call::default()
        }];
        let denied = ["route:files".to_string()];
        assert_eq!(
            answer(&r, &facts(&calls, &denied)),
            Answer::InBand {
                calls: vec![InBandCall {
                    id: json!(4),
                    tool_call: true
                }],
                batch: false,
                revision: Revision::V2025_03_26,
            }
        );
        let f = ExhaustionFacts {
            accepts: Some("402"),
            ..facts(&calls, &denied)
        };
        assert_eq!(answer(&r, &f), Answer::PaymentRequired);
        let mpp_client = ExhaustionFacts {
            accepts_payment: true,
            ..facts(&calls, &denied)
        };
        assert_eq!(answer(&r, &mpp_client), Answer::PaymentRequired);
    }
}
