//! How many requests each access token has been used for, as this isolate knows it.
//!
//! Admission reads and bumps the local count with no I/O. Every use is also counted in the
//! token's Durable Object off the response path (`wait_until`), and the total it returns raises
//! the local count. Within one isolate the grant is therefore exact, even under concurrency. Across
//! isolates a token can overshoot by what other isolates admit before their first counter reply
//! arrives: at most their in-flight requests for that token. The README states and the e2e suite
//! measures this.

use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static USED: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
}

struct Entry {
    used: u32,
    expires_at_ms: u64,
}

/// Keeps the map small: expired tokens are dropped once it grows past this.
const PRUNE_ABOVE: usize = 10_000;

/// Takes one use of the token if its grant has room, returning the count after this use.
pub fn try_take(jti: &str, grant: u32, expires_at_ms: u64, now_ms: u64) -> Option<u32> {
    USED.with(|map| {
        let mut map = map.borrow_mut();
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, e| e.expires_at_ms > now_ms);
        }
        let entry = map.entry(jti.to_string()).or_insert(Entry {
            used: 0,
            expires_at_ms,
        });
        if entry.used >= grant {
            return None;
        }
        entry.used += 1;
        Some(entry.used)
    })
}

/// Raises the local count to the shared total reported by the token's counter.
pub fn observe_total(jti: &str, total: u32) {
    USED.with(|map| {
        if let Some(e) = map.borrow_mut().get_mut(jti) {
            e.used = e.used.max(total);
        }
    });
}
