//! This isolate's record of how much of each credential's grant it has spent: the state behind
//! `gatehouse_core::grant`, kept per isolate so that admission by credential needs no I/O.

use std::cell::RefCell;
use std::collections::HashMap;

use gatehouse_core::grant::{Taken, Usage};

/// Keeps the map small: expired credentials are dropped once it grows past this.
const PRUNE_ABOVE: usize = 10_000;

thread_local! {
    static USED: RefCell<HashMap<String, (Usage, u64)>> = RefCell::new(HashMap::new());
}

/// Whether this isolate has not spent from the credential yet: its first use must be checked with
/// the credential's counter before it is admitted.
pub fn unseen(jti: &str) -> bool {
    USED.with(|map| !map.borrow().contains_key(jti))
}

/// Takes `cost` units of the credential's grant if they all fit.
pub fn try_take(
    jti: &str,
    cost: u32,
    grant: u32,
    expires_at_ms: u64,
    now_ms: u64,
) -> Option<Taken> {
    USED.with(|map| {
        let mut map = map.borrow_mut();
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (_, expires)| *expires > now_ms);
        }
        let (usage, _) = map
            .entry(jti.to_string())
            .or_insert_with(|| (Usage::default(), expires_at_ms));
        usage.take(cost, grant, now_ms)
    })
}

/// Whether `cost` more units fit the grant, as this isolate knows it.
pub fn fits(jti: &str, cost: u32, grant: u32) -> bool {
    USED.with(|map| {
        map.borrow()
            .get(jti)
            .map_or(Usage::default().fits(cost, grant), |(u, _)| {
                u.fits(cost, grant)
            })
    })
}

/// Starts (or raises) this isolate's record of a credential from its counter's total, all of it
/// reported already.
pub fn seed(jti: &str, total: u32, expires_at_ms: u64, now_ms: u64) {
    USED.with(|map| {
        let mut map = map.borrow_mut();
        match map.get_mut(jti) {
            Some((usage, _)) => usage.observe_total(total),
            None => {
                map.insert(
                    jti.to_string(),
                    (Usage::seeded(total, now_ms), expires_at_ms),
                );
            }
        }
    });
}

/// Raises the local count to the shared total reported by the credential's counter.
pub fn observe_total(jti: &str, total: u32) {
    USED.with(|map| {
        if let Some((usage, _)) = map.borrow_mut().get_mut(jti) {
            usage.observe_total(total);
        }
    });
}
