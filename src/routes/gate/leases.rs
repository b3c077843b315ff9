//! This isolate's quota leases (`gatehouse_core::metering::lease`): units of a client's counters
//! leased beyond what a request cost, spent here with no I/O.

use std::cell::RefCell;

use gatehouse_core::metering::lease::{FromLease, Leases, Unspent};
use gatehouse_core::metering::quota::{Check, Decision};

thread_local! {
    static LEASES: RefCell<Leases> = RefCell::new(Leases::default());
}

/// Admits the request from this isolate's leases, if they cover every check.
pub fn spend(client: &str, checks: &[Check], now_ms: u64) -> Option<FromLease> {
    LEASES.with(|l| l.borrow_mut().spend(client, checks, now_ms))
}

/// What to ask the counter to lease, and what to give back to it.
pub fn asking(client: &str, checks: &[Check], now_ms: u64) -> (Vec<u32>, Vec<Unspent>) {
    LEASES.with(|l| l.borrow_mut().asking(client, checks, now_ms))
}

/// Keeps what the counter granted with an admitted request.
pub fn record(client: &str, checks: &[Check], granted: &[u32], decision: &Decision, now_ms: u64) {
    LEASES.with(|l| {
        l.borrow_mut()
            .record(client, checks, granted, decision, now_ms, now_ms)
    });
}
