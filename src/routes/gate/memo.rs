//! This isolate's memory of denied clients (`gatehouse_core::metering::quota_memo`).

use std::cell::RefCell;

use gatehouse_core::metering::quota_memo::{at_hardest, until, Memo, Recalled, Remembered};
use gatehouse_core::wire::denial::Denial;

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

pub fn recall(client: &str, route: &str, cost: u32, now_ms: u64) -> Option<Recalled> {
    MEMO.with(|m| m.borrow().recall(client, route, cost, now_ms))
}

/// Remembers the answer to a denial by the quota (nothing else is remembered).
pub fn remember(
    (client, route): (&str, &str),
    cost: u32,
    first_seen_ms: u64,
    denial: &Denial,
    (now_ms, max_bits): (u64, u8),
) {
    let Denial::QuotaExhausted {
        policy,
        decision,
        offers,
        ..
    } = denial
    else {
        return;
    };
    // While a repeat offender's puzzles still grow harder, every denial must reach its counter.
    if !at_hardest(offers, max_bits) {
        return;
    }
    let r = Remembered {
        route: route.to_string(),
        cost,
        at_ms: now_ms,
        until_ms: until(decision, now_ms),
        decision: decision.clone(),
        first_seen_ms,
        shown: policy.clone(),
        offers: offers.clone(),
    };
    MEMO.with(|m| m.borrow_mut().remember(client, r));
}

/// Forgets a client, after a redemption: its next request must not be offered what it redeemed.
pub fn forget(client: &str, now_ms: u64) {
    MEMO.with(|m| m.borrow_mut().forget(client, now_ms));
}

/// Forgets every client, when the offers or their bounds change.
pub fn clear() {
    MEMO.with(|m| *m.borrow_mut() = Memo::default());
}
