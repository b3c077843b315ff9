//! The budget of refused payments (`REDEEM_PER_MINUTE`, like failed redemptions): a client past
//! it gets `429` from this isolate without a claim row or a facilitator call.

use std::cell::RefCell;
use std::collections::HashMap;

use gatehouse_core::metering::quota::{Check, Decision};
use gatehouse_core::wire::denial::Denial;

use super::super::Pass;
use crate::objects::client_counter;

/// Clients past their budget of refused payments, until when, and the denial that said so.
const REFUSED_ENTRIES: usize = 4_096;

thread_local! {
    static REFUSED: RefCell<HashMap<String, (u64, Decision)>> = RefCell::new(HashMap::new());
}

fn refusals_check(p: &Pass<'_>) -> Check {
    Check {
        counter: "x402_refused".into(),
        policy: p.cfg.limits.redemptions.clone(),
        cost: 1,
    }
}

/// A client that spent its budget of refused payments (`REDEEM_PER_MINUTE`, like failed
/// redemptions) gets 429 from this isolate without a claim row or a facilitator call.
pub(super) fn refused_recently(p: &Pass<'_>) -> Option<Denial> {
    let (until, decision) = REFUSED.with(|r| r.borrow().get(&p.facts.client_key).cloned())?;
    (p.now_ms < until).then(|| super::super::refuse::too_many(&[refusals_check(p)], decision, p))
}

/// Counts a payment refused after it cost a claim row or a facilitator call; past the budget,
/// the client is told 429 and this isolate stops asking the facilitator for it.
pub(super) async fn count_refusal(p: &Pass<'_>) -> Result<(), Denial> {
    let check = refusals_check(p);
    let reply =
        client_counter::check_quota(p.env, &p.facts.client_key, vec![check.clone()], p.now_ms)
            .await?;
    if reply.decision.allowed {
        return Ok(());
    }
    let wait_ms = u64::from(reply.decision.retry_after_s.unwrap_or(1)) * 1_000;
    REFUSED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() >= REFUSED_ENTRIES {
            r.retain(|_, (until, _)| *until > p.now_ms);
        }
        if r.len() < REFUSED_ENTRIES {
            let entry = (p.now_ms + wait_ms, reply.decision.clone());
            r.insert(p.facts.client_key.clone(), entry);
        }
    });
    Err(super::super::refuse::too_many(&[check], reply.decision, p))
}
