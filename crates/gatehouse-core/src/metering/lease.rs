//! Quota leases: how an admitted quota-path request skips the client's counter (docs/PROTOCOL.md
//! §5). The counter (one Durable Object per client) hands an isolate units of a counter's windows
//! beyond what the request costs; the isolate admits later requests from them with no I/O.
//!
//! - **Overshoot zero.** Units are counted in the counter's sliding windows when they are
//!   leased, all or nothing with the request that asked, so the isolates together never admit
//!   more than the windows allow at the instant of each lease.
//! - **Size.** An isolate asks for twice what it spent from its previous lease ([`want`]: none at
//!   first, so a client that calls once in a while is counted exactly, call by call), at most
//!   [`MAX_WANT`]; the counter grants at most half of what the tightest window has left after the
//!   request, and nothing once fewer than [`MIN_LEFT`] would be left ([`grant`]). Near the quota
//!   every request goes to the counter again, so the denial, `Retry-After` and the `RateLimit`
//!   headers of a spent quota are the counter's own, exact.
//! - **Lifetime.** A lease lives [`LEASE_MS`]. What it did not spend by then is given back with
//!   the isolate's next call to that counter ([`give_back`] takes it out of the bucket it was
//!   counted in, if that bucket is still in the window); an isolate that goes away strands what
//!   it held, at most its last grant: half of what was left, and at most [`MAX_WANT`]. A request
//!   its leases cannot admit gives back the rest of its leases on the same counters with its
//!   call ([`Leases::asking`]), so that call's decision and headers are exact.
//! - **What a client can get in any window of `w`.** Its quota `q`, plus what it had leased and
//!   not spent when the window began: the units were counted before the window and spent in it.
//!   That is at most [`MAX_WANT`] per isolate holding a lease, and, since each grant is at most
//!   half of what was left, never more than `q` in all.
//! - **Headers from a lease.** The remaining a lease admission reports is the counter's remaining
//!   at the grant plus what the lease still holds: other isolates' spending since is not seen,
//!   so it can be high by what they hold (their leases); the reset is the grant's, less the time
//!   since.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::quota::{bucket_ms, decide, Check, Decision, QuotaState, WindowStatus};

/// How long a lease may be spent from.
pub const LEASE_MS: u64 = 10_000;
/// The most an isolate asks for at once.
pub const MAX_WANT: u32 = 4_096;
/// Below this many units left after a request (in its tightest window), nothing is leased.
pub const MIN_LEFT: u32 = 16;
/// Leases one isolate keeps; past this, the oldest are dropped (their units stranded).
pub const MAX_LEASES: usize = 4_096;

/// Units an isolate did not spend, given back: the counter, the instant the counter counted
/// them (its own clock, as it told the isolate), how many, and the lengths of the windows they
/// were counted in (the lease's policy's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unspent {
    pub counter: String,
    pub counted_at_ms: u64,
    pub units: u32,
    /// A counter also keeps windows of other policies (`quota`), which never counted these
    /// units. Sent without it (an isolate of an older build), nothing is given back: the units
    /// stay counted, stricter, never looser.
    #[serde(default)]
    pub seconds: Vec<u32>,
}

/// The extra units the counter grants `check` when the isolate wants `want`: at most half of
/// what the tightest window has left after the request itself, none below [`MIN_LEFT`], and
/// never more than asked for.
pub fn grant(check: &Check, state: &QuotaState, want: u32, now_ms: u64) -> u32 {
    if want == 0 {
        return 0;
    }
    let (_, after) = decide(&check.policy, state, check.cost, now_ms);
    if !after.allowed {
        return 0;
    }
    let left = after.windows.iter().map(|w| w.remaining).min().unwrap_or(0);
    if left < MIN_LEFT {
        return 0;
    }
    want.min(left / 2).min(MAX_WANT)
}

/// Takes the units of `given` out of the bucket of each window they were counted in, if that
/// bucket is still there: counted once, uncounted once. Never out of another bucket: a bucket
/// that slid out needs nothing, and a later one holds other admissions (units the counter filed
/// under a later bucket, for clocks that disagree, stay counted: stricter, never looser). Never
/// out of a window of another length either: it holds admissions under other policies.
pub fn give_back(state: &mut QuotaState, given: &Unspent) {
    let (counted_at_ms, units) = (given.counted_at_ms, given.units);
    for counts in &mut state.windows {
        if !given.seconds.contains(&counts.seconds) {
            continue;
        }
        let bucket = counted_at_ms / bucket_ms(counts.seconds);
        if let Some((_, n)) = counts.buckets.iter_mut().find(|(b, _)| *b == bucket) {
            *n = n.saturating_sub(units);
        }
        counts.buckets.retain(|(_, n)| *n > 0);
    }
}

/// One lease an isolate holds on one counter of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The policy it was granted under: a changed policy (a tier, a reload) is a new lease.
    pub check: Check,
    pub units: u32,
    pub granted: u32,
    pub counted_at_ms: u64,
    pub until_ms: u64,
    /// This counter's windows in the counter's decision at the grant, for the headers of
    /// admissions from the lease.
    pub windows: Vec<WindowStatus>,
}

/// An admission from leases: the headers' decision, as far as this isolate knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromLease {
    pub decision: Decision,
}

/// What one isolate holds: leases per client and counter, what it spent of the last ones, and
/// what it owes back.
#[derive(Debug, Default)]
pub struct Leases {
    held: BTreeMap<(String, String), Lease>,
    /// Per client and counter, what the isolate spent of the lease it held last.
    spent: BTreeMap<(String, String), u32>,
    /// Units to give back, per client, with its next call to the counter.
    unspent: BTreeMap<String, Vec<Unspent>>,
}

fn key(client: &str, counter: &str) -> (String, String) {
    (client.to_string(), counter.to_string())
}

impl Leases {
    /// Admits a request of `checks` from the leases held for `client`, if every one of its
    /// counters has a live lease under the same policy with enough units; `None` changes nothing.
    pub fn spend(&mut self, client: &str, checks: &[Check], now_ms: u64) -> Option<FromLease> {
        self.expire(client, now_ms);
        let fits = checks.iter().all(|c| {
            self.held
                .get(&key(client, &c.counter))
                .is_some_and(|l| l.check.policy == c.policy && l.units >= c.cost)
        });
        if !fits || checks.is_empty() {
            return None;
        }
        let mut windows = Vec::new();
        for c in checks {
            let k = key(client, &c.counter);
            let lease = self.held.get_mut(&k)?;
            lease.units -= c.cost;
            *self.spent.entry(k).or_default() += c.cost;
            let elapsed_s = u32::try_from(now_ms.saturating_sub(lease.counted_at_ms) / 1_000)
                .unwrap_or(u32::MAX);
            windows.extend(lease.windows.iter().cloned().map(|mut w| {
                w.remaining = w.remaining.saturating_add(lease.units).min(w.quota);
                w.reset_s = w.reset_s.saturating_sub(elapsed_s);
                w
            }));
        }
        let decision = Decision {
            allowed: true,
            windows,
            retry_after_s: None,
            denied_by: Vec::new(),
        };
        Some(FromLease { decision })
    }

    /// How many extra units to ask for on each of `checks`: twice what was spent of the last
    /// lease of that counter, none at first.
    pub fn wants(&self, client: &str, checks: &[Check]) -> Vec<u32> {
        checks
            .iter()
            .map(|c| want(self.spent.get(&key(client, &c.counter)).copied()))
            .collect()
    }

    /// What to ask the counter for, on a request the leases could not admit: the extra units
    /// wanted on each check, and everything this isolate gives back, which includes the rest of
    /// any lease it holds on these counters (the counter then counts exactly what is spent, and
    /// the request's headers are the counter's own).
    pub fn asking(
        &mut self,
        client: &str,
        checks: &[Check],
        now_ms: u64,
    ) -> (Vec<u32>, Vec<Unspent>) {
        for c in checks {
            if let Some(lease) = self.held.remove(&key(client, &c.counter)) {
                self.release(client, &lease);
            }
        }
        let wants = self.wants(client, checks);
        (wants, self.take_unspent(client, now_ms))
    }

    /// What to give back with the next call to `client`'s counter (taken: sent once).
    pub fn take_unspent(&mut self, client: &str, now_ms: u64) -> Vec<Unspent> {
        self.expire(client, now_ms);
        self.unspent.remove(client).unwrap_or_default()
    }

    /// Records the units the counter granted beyond the admitted request, with its decision and
    /// its clock. A lease already held on a counter is replaced: its rest is given back later.
    pub fn record(
        &mut self,
        client: &str,
        checks: &[Check],
        granted: &[u32],
        decision: &Decision,
        counted_at_ms: u64,
        now_ms: u64,
    ) {
        // The decision lists each check's windows in turn (`quota::decide_all`).
        let mut windows = decision.windows.iter();
        for (c, g) in checks.iter().zip(granted) {
            let own: Vec<WindowStatus> = windows
                .by_ref()
                .take(c.policy.windows().len())
                .cloned()
                .collect();
            let k = key(client, &c.counter);
            if let Some(old) = self.held.remove(&k) {
                self.release(client, &old);
            }
            if *g == 0 {
                // Admitted by the counter without a lease: as if a lease of its cost was spent,
                // so the next asks for twice that.
                self.spent.insert(k, c.cost);
                continue;
            }
            self.spent.insert(k.clone(), 0);
            self.held.insert(
                k,
                Lease {
                    check: c.clone(),
                    units: *g,
                    granted: *g,
                    counted_at_ms,
                    until_ms: now_ms + LEASE_MS,
                    windows: own,
                },
            );
        }
        // A bounded memory: the oldest leases go first, their units stranded until they slide
        // out of the counter's windows.
        while self.held.len() > MAX_LEASES {
            let oldest = self
                .held
                .iter()
                .min_by_key(|(_, l)| l.until_ms)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            // Still given back with that client's next call, if this isolate sees it again.
            if let Some(lease) = self.held.remove(&k) {
                self.release(&k.0, &lease);
            }
            self.spent.remove(&k);
        }
        while self.spent.len() > MAX_LEASES * 2 {
            let Some(k) = self.spent.keys().next().cloned() else {
                break;
            };
            self.spent.remove(&k);
        }
        while self.unspent.len() > MAX_LEASES {
            let Some(k) = self.unspent.keys().next().cloned() else {
                break;
            };
            self.unspent.remove(&k);
        }
    }

    /// Moves `client`'s expired leases to what is given back.
    fn expire(&mut self, client: &str, now_ms: u64) {
        let expired: Vec<(String, String)> = self
            .held
            .range(key(client, "")..)
            .take_while(|((c, _), _)| c == client)
            .filter(|(_, l)| l.until_ms <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some(lease) = self.held.remove(&k) {
                self.release(client, &lease);
            }
        }
    }

    fn release(&mut self, client: &str, lease: &Lease) {
        if lease.units == 0 {
            return;
        }
        self.unspent
            .entry(client.to_string())
            .or_default()
            .push(Unspent {
                counter: lease.check.counter.clone(),
                counted_at_ms: lease.counted_at_ms,
                units: lease.units,
                seconds: lease
                    .check
                    .policy
                    .windows()
                    .iter()
                    .map(|w| w.seconds)
                    .collect(),
            });
    }

    /// Units this isolate holds for `client` and has not spent (for the tests' accounting).
    pub fn held_units(&self, client: &str) -> u32 {
        self.held
            .iter()
            .filter(|((c, _), _)| c == client)
            .map(|(_, l)| l.units)
            .sum()
    }
}

/// The counter's decision for a request that was granted `granted` beyond its cost, as that
/// request's headers show it: the grants are this isolate's to spend, so they are still the
/// client's remaining.
pub fn with_grants(mut decision: Decision, checks: &[Check], granted: &[u32]) -> Decision {
    let mut windows = decision.windows.iter_mut();
    for (c, g) in checks.iter().zip(granted) {
        for w in windows.by_ref().take(c.policy.windows().len()) {
            w.remaining = w.remaining.saturating_add(*g).min(w.quota);
        }
    }
    decision
}

/// Twice what was spent of the last lease (none before the counter first admitted anything), at
/// least one, at most [`MAX_WANT`].
pub fn want(spent_last: Option<u32>) -> u32 {
    spent_last.map_or(0, |s| s.saturating_mul(2).clamp(1, MAX_WANT))
}

#[cfg(test)]
mod tests;
