//! This isolate's leases of credentials' grants: the state behind `gatehouse_core::credentials::grant`, kept
//! per isolate so that admission by credential needs no I/O once a lease is held.

use std::cell::RefCell;
use std::collections::HashMap;

use gatehouse_core::credentials::grant::{Ask, Lease, Leased, Taken};

/// Keeps the map small: expired credentials are dropped once it grows past this.
const PRUNE_ABOVE: usize = 10_000;

thread_local! {
    static LEASES: RefCell<HashMap<String, (Lease, u64)>> = RefCell::new(HashMap::new());
}

fn with<R>(jti: &str, expires_at_ms: u64, now_ms: u64, f: impl FnOnce(&mut Lease) -> R) -> R {
    LEASES.with(|map| {
        let mut map = map.borrow_mut();
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (_, expires)| *expires > now_ms);
        }
        let (lease, _) = map
            .entry(jti.to_string())
            .or_insert_with(|| (Lease::default(), expires_at_ms));
        f(lease)
    })
}

/// Whether the credential's counter must be asked before `cost` units can be admitted here, and
/// what to ask it for.
pub fn needs_counter(jti: &str, cost: u32) -> Option<Ask> {
    LEASES.with(|map| {
        let map = map.borrow();
        let lease = map.get(jti).map(|(l, _)| l.clone()).unwrap_or_default();
        lease.needs_counter(cost).then(|| lease.ask(cost))
    })
}

/// What a background renewal asks for.
pub fn renewal(jti: &str) -> Ask {
    LEASES.with(|map| {
        let map = map.borrow();
        map.get(jti)
            .map(|(l, _)| l.clone())
            .unwrap_or_default()
            .ask(1)
    })
}

/// Whether `cost` units fit what this isolate holds or could still lease.
pub fn fits(jti: &str, cost: u32) -> bool {
    LEASES.with(|map| {
        map.borrow()
            .get(jti)
            .is_none_or(|(l, _)| l.needs_counter(cost) || cost <= l.unspent())
    })
}

/// Adds a lease the counter handed out.
pub fn add(jti: &str, leased: Leased, expires_at_ms: u64, now_ms: u64) {
    with(jti, expires_at_ms, now_ms, |l| l.add(leased));
}

/// Takes `cost` units from this isolate's lease if they all fit.
pub fn take(jti: &str, cost: u32, expires_at_ms: u64, now_ms: u64) -> Option<Taken> {
    with(jti, expires_at_ms, now_ms, |l| l.take(cost, now_ms))
}

/// Lands a background renewal (`None` when it failed: the next take may ask again).
pub fn renewed(jti: &str, leased: Option<Leased>, expires_at_ms: u64, now_ms: u64) {
    with(jti, expires_at_ms, now_ms, |l| l.renewed(leased, now_ms));
}
