//! How many requests each access token has been used for, as this isolate knows it.
//!
//! Admission reads and bumps the local count with no I/O, so within one isolate a token admits
//! exactly its grant, even under concurrency. Uses are also reported to the token's Durable
//! Object off the response path (`wait_until`), in batches: on first use, then every
//! `REPORT_EVERY` uses, once a second, and on the use that reaches the grant. The total the
//! object returns raises the local count, which is how an isolate learns of other isolates' uses.
//! Across isolates a token can therefore overshoot its grant by what each other isolate admits
//! and has not yet reported: fewer than `REPORT_EVERY`, plus its requests in flight. The README
//! states this and the e2e suite measures the one-isolate case.

use std::cell::RefCell;
use std::collections::HashMap;

/// Batching keeps the counter call off most requests: one call per this many uses.
pub const REPORT_EVERY: u32 = 8;
const REPORT_INTERVAL_MS: u64 = 1_000;
/// Keeps the map small: expired tokens are dropped once it grows past this.
const PRUNE_ABOVE: usize = 10_000;

thread_local! {
    static USED: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
}

struct Entry {
    used: u32,
    reported: u32,
    reported_at_ms: u64,
    expires_at_ms: u64,
}

pub struct Taken {
    /// The count after this use.
    pub used: u32,
    /// Uses to report to the token's counter now, if a report is due.
    pub report: Option<u32>,
}

/// Takes one use of the token if its grant has room.
pub fn try_take(jti: &str, grant: u32, expires_at_ms: u64, now_ms: u64) -> Option<Taken> {
    USED.with(|map| {
        let mut map = map.borrow_mut();
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, e| e.expires_at_ms > now_ms);
        }
        let e = map.entry(jti.to_string()).or_insert(Entry {
            used: 0,
            reported: 0,
            reported_at_ms: 0,
            expires_at_ms,
        });
        if e.used >= grant {
            return None;
        }
        e.used += 1;
        let pending = e.used.saturating_sub(e.reported);
        let due = e.reported == 0
            || pending >= REPORT_EVERY
            || e.used == grant
            || now_ms.saturating_sub(e.reported_at_ms) >= REPORT_INTERVAL_MS;
        let report = (due && pending > 0).then(|| {
            e.reported = e.used;
            e.reported_at_ms = now_ms;
            pending
        });
        Some(Taken {
            used: e.used,
            report,
        })
    })
}

/// Raises the local count to the shared total reported by the token's counter.
pub fn observe_total(jti: &str, total: u32) {
    USED.with(|map| {
        if let Some(e) = map.borrow_mut().get_mut(jti) {
            if total > e.used {
                // Uses by other isolates: count them as reported, they are in the total already.
                e.reported += total - e.used;
                e.used = total;
            }
        }
    });
}
