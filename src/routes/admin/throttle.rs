//! Failed admin authentications, throttled per address and in total, and audited
//! (`gatehouse_core::admin_guard`): a wrong secret is charged to its address's failure counter
//! and to the counter of all addresses, both Durable Objects; once either is at its limit, every
//! attempt it covers gets `429` with `Retry-After` and its secret is not looked at, so guessing
//! goes no faster than the limits whatever the secret presented.
//!
//! Guesses sent at once all reach the comparison before the first failure is counted: an
//! attacker gets at most the limit plus its requests in flight per minute, and with a secret of
//! at least 128 bits (the configuration refuses a weaker one) no number of guesses is a threat.

use gatehouse_core::admin_guard::{
    failure_check, failure_counter, ALL_ADDRESSES, FAILURES_IN_TOTAL, FAILURES_PER_ADDRESS,
};
use gatehouse_core::audit::Record;
use gatehouse_core::credentials::identity::UNATTRIBUTED;
use gatehouse_core::metering::quota::Decision;
use gatehouse_core::wire::denial::{Answer, Denial};
use worker::{Context, Env};

use crate::objects::client_counter;
use crate::stores::audit;

/// The counters an attempt from `address_key` is judged by, with their limits. Where no address
/// can be believed (`CLIENT_ADDRESS_HEADER=none`), every client is one address, and a limit per
/// address would let ten guesses from anyone hold the operator off: the total alone applies.
fn counters(address_key: &str) -> Vec<(String, u32)> {
    let total = (ALL_ADDRESSES.to_string(), FAILURES_IN_TOTAL);
    if address_key == UNATTRIBUTED {
        return vec![total];
    }
    vec![(failure_counter(address_key), FAILURES_PER_ADDRESS), total]
}

/// Charges (`record`) or asks both counters; the first one that refuses, if any.
async fn judge(
    env: &Env,
    address_key: &str,
    record: bool,
    now_ms: u64,
) -> Result<Option<Decision>, Denial> {
    for (object, limit) in counters(address_key) {
        let check = failure_check(limit, record);
        let reply = client_counter::check_quota(env, &object, vec![check], now_ms).await?;
        if !reply.decision.allowed {
            return Ok(Some(reply.decision));
        }
    }
    Ok(None)
}

fn too_many(limit: u32, decision: Decision) -> Denial {
    let check = failure_check(limit, true);
    Denial::QuotaExhausted {
        policy: check.policy,
        decision,
        offers: Vec::new(),
        verify_url: String::new(),
        answer: Answer::TooManyRequests,
    }
}

/// Before the secret is compared: `429` while either counter is at its limit.
pub async fn admit(env: &Env, address_key: &str, now_ms: u64) -> Result<(), Denial> {
    match judge(env, address_key, false, now_ms).await? {
        Some(decision) => Err(too_many(FAILURES_PER_ADDRESS, decision)),
        None => Ok(()),
    }
}

/// A wrong secret: counted and audited; `401`, or `429` once it crossed a limit.
pub async fn failed(
    env: &Env,
    ctx: &Context,
    address_key: &str,
    path: &str,
    now_ms: u64,
) -> Denial {
    let denial = match judge(env, address_key, true, now_ms).await {
        Ok(Some(decision)) => too_many(FAILURES_PER_ADDRESS, decision),
        Ok(None) => Denial::AdminUnauthorized,
        Err(unavailable) => unavailable,
    };
    audit_refusal(env, ctx, address_key, path, denial.to_wire().status, now_ms);
    denial
}

/// Refused admin attempts go in the trail under the interval's budget (a flood of them is an
/// attacker's, and must not write without bound), unlike the operator's own changes.
pub fn audit_refusal(
    env: &Env,
    ctx: &Context,
    address_key: &str,
    path: &str,
    status: u16,
    now_ms: u64,
) {
    let record = Record {
        ts: now_ms,
        route: "admin".into(),
        identity: address_key.into(),
        admitted_by: Some(String::new()),
        method: "admin/auth".into(),
        name: Some(path.chars().take(64).collect()),
        status,
        ..Record::default()
    };
    audit::write(env, ctx, vec![record], now_ms);
}
