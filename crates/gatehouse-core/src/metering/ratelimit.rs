//! `RateLimit-Policy` and `RateLimit` header values (draft-ietf-httpapi-ratelimit-headers-10):
//! `"minute";q=60;w=60` for each policy window, and `"minute";r=0;t=17` for the window closest to
//! its limit. `Retry-After` (RFC 9110 §10.2.3) goes out only on denials, never earlier than `t`.

use crate::metering::quota::{Decision, Policy};
use crate::wire::headers::{RATELIMIT_HEADER, RATELIMIT_POLICY_HEADER, RETRY_AFTER_HEADER};

pub fn policy_header(policy: &Policy) -> String {
    policy
        .windows()
        .iter()
        .map(|w| format!("\"{}\";q={};w={}", w.name, w.quota, w.seconds))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn ratelimit_header(decision: &Decision) -> Option<String> {
    decision
        .tightest()
        .map(|w| format!("\"{}\";r={};t={}", w.name, w.remaining, w.reset_s))
}

/// The headers for a token-admitted request: the token's own grant is the policy in force.
pub fn token_headers(
    grant: u32,
    used: u32,
    lifetime_s: u64,
    seconds_left: u64,
) -> [(&'static str, String); 2] {
    [
        (
            RATELIMIT_POLICY_HEADER,
            format!("\"token\";q={grant};w={lifetime_s}"),
        ),
        (
            RATELIMIT_HEADER,
            format!(
                "\"token\";r={};t={seconds_left}",
                grant.saturating_sub(used)
            ),
        ),
    ]
}

pub fn quota_headers(policy: &Policy, decision: &Decision) -> Vec<(&'static str, String)> {
    let mut out = vec![(RATELIMIT_POLICY_HEADER, policy_header(policy))];
    if let Some(rl) = ratelimit_header(decision) {
        out.push((RATELIMIT_HEADER, rl));
    }
    if let Some(retry) = decision.retry_after_s {
        out.push((RETRY_AFTER_HEADER, retry.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::quota::{decide, QuotaState, Window};

    fn policy() -> Policy {
        Policy::new(vec![
            Window::new("minute", 2, 60).unwrap(),
            Window::new("hour", 100, 3600).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn policy_lists_every_window() {
        assert_eq!(
            policy_header(&policy()),
            "\"minute\";q=2;w=60, \"hour\";q=100;w=3600"
        );
    }

    #[test]
    fn a_denial_carries_retry_after_equal_to_t() {
        let p = policy();
        let (s, _) = decide(&p, &QuotaState::default(), 2, 0);
        let (_, d) = decide(&p, &s, 1, 500);
        let headers = quota_headers(&p, &d);
        assert!(
            headers.contains(&("ratelimit", "\"minute\";r=0;t=61".to_string())),
            "{headers:?}"
        );
        assert!(headers.contains(&("retry-after", "61".to_string())));
    }

    #[test]
    fn an_admission_has_no_retry_after() {
        let p = policy();
        let (_, d) = decide(&p, &QuotaState::default(), 1, 0);
        assert!(quota_headers(&p, &d)
            .iter()
            .all(|(k, _)| *k != "retry-after"));
    }

    #[test]
    fn token_headers_count_down_the_grant() {
        let [policy, rl] = token_headers(60, 10, 300, 250);
        assert_eq!(policy.1, "\"token\";q=60;w=300");
        assert_eq!(rl.1, "\"token\";r=50;t=250");
    }
}
