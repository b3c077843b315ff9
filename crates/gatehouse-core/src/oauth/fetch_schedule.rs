//! When an isolate fetches the authorization server's metadata (RFC 8414) or signing keys
//! (RFC 7517), so that the gateway neither trusts old keys forever nor turns into a load
//! generator against the server.
//!
//! - A document is kept `TTL_MS`, then fetched again; while one fetch is under way, the others
//!   use what is cached, or wait for it if nothing is.
//! - A token naming a key the cache does not have triggers a fetch, since the server may have
//!   rotated its keys, but at most once per `REFRESH_GAP_MS`: made-up key ids cannot make the
//!   gateway fetch on every request.
//! - A failed fetch starts an exponential backoff (`backoff_ms`, from `BACKOFF_BASE_MS` doubling up
//!   to `BACKOFF_CEILING_MS`). Until it ends, nothing is fetched: what is cached keeps working, and
//!   a caller that needs what is not cached is told the server is unavailable (503 with
//!   `Retry-After`), never that its token is bad.

pub const TTL_MS: u64 = 10 * 60 * 1_000;
pub const REFRESH_GAP_MS: u64 = 30 * 1_000;
pub const BACKOFF_BASE_MS: u64 = 1_000;
pub const BACKOFF_CEILING_MS: u64 = 60 * 1_000;
/// A fetch not finished after this long is taken as abandoned (its request went away), so that a
/// lost fetch cannot stop every later one.
pub const ATTEMPT_EXPIRY_MS: u64 = 30 * 1_000;

/// What the caller should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Fetch, after `begin`; then `succeeded` or `failed`, and plan again.
    Fetch,
    /// Another caller is fetching what this one needs: wait a moment and plan again.
    Wait,
    /// Use the cache; if what the caller needs is not in it, that is the caller's problem (an
    /// unknown key id is the token's fault).
    UseCache,
    /// The server is failing and the cache cannot answer: 503.
    Unavailable,
}

/// One document's fetch history in one isolate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchSchedule {
    fetched_ms: Option<u64>,
    last_attempt_ms: Option<u64>,
    in_flight_since_ms: Option<u64>,
    failures: u32,
    retry_at_ms: u64,
}

/// How long to wait after the `failures`-th failure in a row (1-based).
pub fn backoff_ms(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(32);
    BACKOFF_BASE_MS
        .saturating_mul(1u64 << doublings)
        .min(BACKOFF_CEILING_MS)
}

impl FetchSchedule {
    /// `have`: the cache holds what this caller needs (the token's key id, or the document).
    pub fn plan(&self, now_ms: u64, have: bool) -> Plan {
        let since = |t: u64| now_ms.saturating_sub(t);
        let or_else = |otherwise| if have { Plan::UseCache } else { otherwise };
        if self
            .in_flight_since_ms
            .is_some_and(|t| since(t) < ATTEMPT_EXPIRY_MS)
        {
            return or_else(Plan::Wait);
        }
        if self.backing_off(now_ms) {
            return or_else(Plan::Unavailable);
        }
        if self.fetched_ms.is_none_or(|t| since(t) >= TTL_MS) {
            return Plan::Fetch;
        }
        // After a failure, the cache says nothing about a key it lacks: ask again once the
        // backoff allows. After a success, only once the gap has passed.
        let may_refresh = self.failures > 0
            || self
                .last_attempt_ms
                .is_none_or(|t| since(t) >= REFRESH_GAP_MS);
        if !have && may_refresh {
            return Plan::Fetch;
        }
        Plan::UseCache
    }

    pub fn backing_off(&self, now_ms: u64) -> bool {
        self.failures > 0 && now_ms < self.retry_at_ms
    }

    pub fn begin(&mut self, now_ms: u64) {
        self.in_flight_since_ms = Some(now_ms);
        self.last_attempt_ms = Some(now_ms);
    }

    pub fn succeeded(&mut self, now_ms: u64) {
        self.fetched_ms = Some(now_ms);
        self.in_flight_since_ms = None;
        self.failures = 0;
        self.retry_at_ms = 0;
    }

    pub fn failed(&mut self, now_ms: u64) {
        self.in_flight_since_ms = None;
        self.failures = self.failures.saturating_add(1);
        self.retry_at_ms = now_ms.saturating_add(backoff_ms(self.failures));
    }
}

#[cfg(test)]
mod tests;
