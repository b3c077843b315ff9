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

thread_local! {
    /// Requests of this isolate waiting for a lease, by credential.
    static ASKING: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// Whether the credential's counter must be asked before `cost` units can be admitted here, what
/// to ask it for, and the wait, which ends when the [`Waiting`] is dropped (however the request
/// ends). Only the first of concurrent requests that find the lease short, and only when no
/// renewal is out, asks for what the isolate's use wants; the others ask for what they need (at
/// least `MIN_LEASE`), so a burst does not lease a full lease each.
pub fn needs_counter(jti: &str, cost: u32) -> Option<(Ask, Waiting)> {
    let (ask, renewing) = LEASES.with(|map| {
        let map = map.borrow();
        let lease = map.get(jti).map(|(l, _)| l.clone()).unwrap_or_default();
        lease
            .needs_counter(cost)
            .then(|| (lease.ask(cost), lease.renewing))
    })?;
    let already = ASKING.with(|a| {
        let mut a = a.borrow_mut();
        let n = a.entry(jti.to_string()).or_insert(0);
        *n += 1;
        *n > 1
    });
    let ask = match already || renewing {
        true => Ask {
            want: ask.at_least,
            ..ask
        },
        false => ask,
    };
    Some((ask, Waiting(jti.to_string())))
}

/// A wait that [`needs_counter`] began, ended when dropped, whatever came of it.
pub struct Waiting(String);

impl Drop for Waiting {
    fn drop(&mut self) {
        asked(&self.0);
    }
}

fn asked(jti: &str) {
    ASKING.with(|a| {
        let mut a = a.borrow_mut();
        if let Some(n) = a.get_mut(jti) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                a.remove(jti);
            }
        }
    });
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

/// Whether the counter must be asked before `cost` units can be taken here (what
/// [`needs_counter`] decides, without joining the wait).
pub fn lease_short(jti: &str, cost: u32) -> bool {
    LEASES.with(|map| match map.borrow().get(jti) {
        Some((lease, _)) => lease.needs_counter(cost),
        None => Lease::default().needs_counter(cost),
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
