//! Request quotas: a bucketed sliding window, one per configured window (per minute, per hour).
//!
//! Each window is cut into `BUCKETS` sub-buckets. A decision at `now` counts every admission in
//! any bucket that overlaps `(now - w, now]`, so the count never misses an admission inside the
//! real window: no sliding interval of length `w` ever holds more than `q` admissions (the
//! property tests below check exactly that). The price is being stricter by at most one bucket,
//! 1/60 of the window. GCRA was the alternative; it admits a burst of `q` and then the sustained
//! rate on top, up to `2q - 1` in one window, which is not what "60 per minute" promises.
//!
//! A denial says when to come back: the earliest instant at which enough old buckets have slid
//! out for the request to fit, rounded up to whole seconds (draft-ietf-httpapi-ratelimit-headers
//! §5: `Retry-After` never earlier than `t`). Everything takes `now` in milliseconds.
//!
//! A counter's state keeps one count per window length, whichever policy it was charged under:
//! a caller may be judged under different policies on one counter (one identity reached through
//! keys or clients in different tiers, a tier changed live). A decision charges the windows of
//! its own policy and keeps every other length as it is, so switching policies never resets a
//! count; a length is dropped once all its buckets have slid out of its own window.
//!
//! **Bound.** A state holds at most `max(MAX_WINDOWS, n)` window lengths, `n` the number of
//! distinct lengths in the policy of the last decision, each with at most `BUCKETS + 1` buckets.
//! Buckets are added only at the newest index and those before the window are dropped, and a
//! window spans at most `BUCKETS` bucket lengths. Past [`MAX_WINDOWS`] kept lengths, which only a
//! configuration of that many distinct lengths reaches, the kept ones that would empty soonest go
//! first (and those policies' counts start afresh).

use serde::{Deserialize, Serialize};

pub const BUCKETS: u64 = 60;
/// Window lengths a state keeps beside the current policy's (which are always kept). Lengths
/// come from the configuration (routes, tiers, limits, ceilings), never from a client, and a
/// configuration uses a handful; dropping a kept length that still counts would let its policy
/// start afresh, so the cap sits far above any configuration and only bounds a pathological one.
pub const MAX_WINDOWS: usize = 64;

/// One window of a policy: at most `quota` units of cost per `seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    pub quota: u32,
    pub seconds: u32,
}

impl Window {
    /// `None` for a zero quota or a zero-length window: such a window does not exist.
    pub fn new(name: &str, quota: u32, seconds: u32) -> Option<Self> {
        (quota > 0 && seconds > 0).then(|| Self {
            name: name.into(),
            quota,
            seconds,
        })
    }

    fn window_ms(&self) -> u64 {
        window_ms(self.seconds)
    }

    fn bucket_ms(&self) -> u64 {
        bucket_ms(self.seconds)
    }
}

fn window_ms(seconds: u32) -> u64 {
    u64::from(seconds) * 1_000
}

/// How long one bucket of a window of `seconds` lasts.
pub fn bucket_ms(seconds: u32) -> u64 {
    window_ms(seconds).div_ceil(BUCKETS).max(1)
}

/// The oldest bucket of a window of `seconds` that still overlaps the window ending at `now_ms`.
fn first_live(seconds: u32, now_ms: u64) -> u64 {
    now_ms.saturating_sub(window_ms(seconds)) / bucket_ms(seconds)
}

/// A non-empty set of windows; a request must fit all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    windows: Vec<Window>,
}

impl Policy {
    pub fn new(windows: Vec<Window>) -> Option<Self> {
        (!windows.is_empty()).then_some(Self { windows })
    }

    pub fn windows(&self) -> &[Window] {
        &self.windows
    }
}

/// A named quota a caller can be put in: an OAuth tier (`OAUTH_TIERS`, by token claim or client)
/// or an API key's tier (`KEY_TIERS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    pub policy: Policy,
}

/// Admissions per bucket for one window, oldest first; only non-empty buckets are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCounts {
    pub seconds: u32,
    pub buckets: Vec<(u64, u32)>,
}

/// What a rate key's Durable Object stores between requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaState {
    pub windows: Vec<WindowCounts>,
}

/// A window's standing after a decision, for the `RateLimit` headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowStatus {
    pub name: String,
    pub quota: u32,
    pub seconds: u32,
    pub remaining: u32,
    /// Seconds until `remaining` next grows (a bucket slides out), rounded up.
    pub reset_s: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub windows: Vec<WindowStatus>,
    /// Whole seconds after which the same request will fit; set only on a denial.
    pub retry_after_s: Option<u32>,
    /// The counters that denied it (`decide_all`); empty when allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_by: Vec<String>,
}

impl Decision {
    /// The window closest to its limit, which is the one the `RateLimit` header reports.
    pub fn tightest(&self) -> Option<&WindowStatus> {
        self.windows
            .iter()
            .min_by_key(|w| (w.remaining, std::cmp::Reverse(w.reset_s)))
    }
}

/// Decides whether `cost` more units fit `policy` at `now_ms`, and returns the state to store.
/// The state changes only on admission; a denial costs the caller nothing. Windows of lengths
/// `policy` does not have are kept as they are (see the module's bound).
pub fn decide(
    policy: &Policy,
    state: &QuotaState,
    cost: u32,
    now_ms: u64,
) -> (QuotaState, Decision) {
    let mut counts: Vec<WindowCounts> = policy
        .windows()
        .iter()
        .map(|w| live_counts(w, state, now_ms))
        .collect();
    let fits = policy
        .windows()
        .iter()
        .zip(&counts)
        .all(|(w, c)| used(c) + u64::from(cost) <= u64::from(w.quota));
    let mut retry_ms: Option<u64> = None;
    if fits {
        for (w, c) in policy.windows().iter().zip(counts.iter_mut()) {
            add(c, now_ms / w.bucket_ms(), cost);
        }
    } else {
        for (w, c) in policy.windows().iter().zip(&counts) {
            if used(c) + u64::from(cost) > u64::from(w.quota) {
                let wait = wait_until_fits(w, c, cost, now_ms);
                retry_ms = Some(retry_ms.map_or(wait, |r| r.max(wait)));
            }
        }
    }
    let windows = policy
        .windows()
        .iter()
        .zip(&counts)
        .map(|(w, c)| status(w, c, now_ms))
        .collect();
    let decision = Decision {
        denied_by: Vec::new(),
        allowed: fits,
        windows,
        retry_after_s: retry_ms.map(|ms| ms_to_whole_seconds(ms).max(1)),
    };
    (stored(counts, state, now_ms), decision)
}

/// The state to keep after a decision: the policy's counts, one per window length, then every
/// other length `state` held, untouched (not charged: the request was not judged by it), unless
/// all its buckets have slid out of its own window. See the module's bound.
fn stored(counts: Vec<WindowCounts>, state: &QuotaState, now_ms: u64) -> QuotaState {
    let mut windows: Vec<WindowCounts> = Vec::with_capacity(counts.len() + state.windows.len());
    for c in counts {
        // Two windows of one length in a policy are charged alike: one count serves both.
        if !windows.iter().any(|k| k.seconds == c.seconds) {
            windows.push(c);
        }
    }
    let own = windows.len();
    for c in &state.windows {
        let known = windows.iter().any(|k| k.seconds == c.seconds);
        let live = c
            .buckets
            .iter()
            .any(|(b, _)| *b >= first_live(c.seconds, now_ms));
        if !known && live {
            windows.push(c.clone());
        }
    }
    let room = MAX_WINDOWS.max(own);
    if windows.len() > room {
        let mut kept = windows.split_off(own);
        kept.sort_by_key(|c| std::cmp::Reverse(empties_at(c)));
        kept.truncate(room - own);
        windows.extend(kept);
    }
    QuotaState { windows }
}

/// When the newest bucket of `c` slides out of its window: when nothing of it is counted any more.
fn empties_at(c: &WindowCounts) -> u64 {
    let bucket_ms = bucket_ms(c.seconds);
    c.buckets.iter().map(|(b, _)| *b).max().map_or(0, |b| {
        b.saturating_add(1)
            .saturating_mul(bucket_ms)
            .saturating_add(window_ms(c.seconds))
    })
}

fn ms_to_whole_seconds(ms: u64) -> u32 {
    u32::try_from(ms.div_ceil(1_000)).unwrap_or(u32::MAX)
}

/// The buckets of `w` that still overlap the window ending at `now_ms`. Only counts kept for
/// this very length are read: another length's buckets are other instants, never misread as
/// these (a length first seen starts afresh).
fn live_counts(w: &Window, state: &QuotaState, now_ms: u64) -> WindowCounts {
    let first_live = first_live(w.seconds, now_ms);
    let buckets = state
        .windows
        .iter()
        .find(|c| c.seconds == w.seconds)
        .map(|c| {
            c.buckets
                .iter()
                .copied()
                .filter(|(b, _)| *b >= first_live)
                .collect()
        })
        .unwrap_or_default();
    WindowCounts {
        seconds: w.seconds,
        buckets,
    }
}

fn used(c: &WindowCounts) -> u64 {
    c.buckets.iter().map(|(_, n)| u64::from(*n)).sum()
}

fn add(c: &mut WindowCounts, bucket: u64, cost: u32) {
    match c.buckets.last_mut() {
        Some((b, n)) if *b == bucket => *n = n.saturating_add(cost),
        // A request stamped earlier than the newest bucket (clocks of two isolates) is filed
        // under the newest one: later, so it is counted for longer, never shorter.
        Some((b, n)) if *b > bucket => *n = n.saturating_add(cost),
        _ => c.buckets.push((bucket, cost)),
    }
}

/// Milliseconds from `now_ms` until enough of the oldest buckets have slid out for `cost` to fit.
/// Bucket `b` stops overlapping the window at `(b + 1) * bucket_ms + window_ms`.
fn wait_until_fits(w: &Window, c: &WindowCounts, cost: u32, now_ms: u64) -> u64 {
    if cost > w.quota {
        // Can never fit; tell the caller to wait a whole window rather than spin.
        return w.window_ms();
    }
    let mut over = used(c) + u64::from(cost) - u64::from(w.quota);
    for (b, n) in &c.buckets {
        let leaves_at = (b + 1) * w.bucket_ms() + w.window_ms();
        if u64::from(*n) >= over {
            return leaves_at.saturating_sub(now_ms);
        }
        over -= u64::from(*n);
    }
    w.window_ms()
}

fn status(w: &Window, c: &WindowCounts, now_ms: u64) -> WindowStatus {
    let remaining = u64::from(w.quota).saturating_sub(used(c));
    let reset_ms = c
        .buckets
        .first()
        .map(|(b, _)| ((b + 1) * w.bucket_ms() + w.window_ms()).saturating_sub(now_ms))
        .unwrap_or(0);
    WindowStatus {
        name: w.name.clone(),
        quota: w.quota,
        seconds: w.seconds,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_s: ms_to_whole_seconds(reset_ms),
    }
}

#[cfg(test)]
mod switching_tests;
#[cfg(test)]
mod tests;

/// One counter's part in a request: which counter, under which policy, at what cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub counter: String,
    pub policy: Policy,
    pub cost: u32,
}

impl Check {
    /// A check that charges nothing and fits exactly when this one would: to ask a counter before
    /// deciding whether to charge it. (A cost over a window's whole quota never fits.)
    pub fn asking(&self) -> Check {
        let never = self.policy.windows.iter().any(|w| w.quota < self.cost);
        let windows = self
            .policy
            .windows
            .iter()
            .map(|w| Window {
                quota: w.quota.saturating_sub(self.cost),
                ..w.clone()
            })
            .collect();
        Check {
            counter: self.counter.clone(),
            policy: Policy { windows },
            cost: u32::from(never),
        }
    }
}

/// Decides several counters at once, all or nothing: a request that fits its origin's quota but
/// not its tool's limit is denied and charged nowhere. The decision lists every window, so the
/// `RateLimit` header can name the tightest, and waits for the slowest denying counter.
pub fn decide_all(
    checks: &[Check],
    states: &std::collections::BTreeMap<String, QuotaState>,
    now_ms: u64,
) -> (std::collections::BTreeMap<String, QuotaState>, Decision) {
    let empty = QuotaState::default();
    let results: Vec<(QuotaState, Decision)> = checks
        .iter()
        .map(|c| {
            decide(
                &c.policy,
                states.get(&c.counter).unwrap_or(&empty),
                c.cost,
                now_ms,
            )
        })
        .collect();
    let allowed = results.iter().all(|(_, d)| d.allowed);
    let mut next = states.clone();
    for (check, (state, _)) in checks.iter().zip(&results) {
        // On a denial nothing is charged, but expired buckets may still be dropped.
        let keep = if allowed {
            state.clone()
        } else {
            decide(
                &check.policy,
                states.get(&check.counter).unwrap_or(&empty),
                0,
                now_ms,
            )
            .0
        };
        next.insert(check.counter.clone(), keep);
    }
    let retry_after_s = results.iter().filter_map(|(_, d)| d.retry_after_s).max();
    let denied_by = checks
        .iter()
        .zip(&results)
        .filter(|(_, (_, d))| !d.allowed)
        .map(|(c, _)| c.counter.clone())
        .collect();
    let windows = results.into_iter().flat_map(|(_, d)| d.windows).collect();
    (
        next,
        Decision {
            allowed,
            denied_by,
            windows,
            retry_after_s: if allowed { None } else { retry_after_s },
        },
    )
}
