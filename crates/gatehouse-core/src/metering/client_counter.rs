//! One client's counters, as its Durable Object keeps them: the sliding windows of every route
//! and limit it met (`quota::decide_all`), its denials over the last ten minutes (never limited,
//! only counted, to tell a repeat offender: `difficulty::escalate`), and when it was first seen
//! (the legacy grace period). [`step`] is the object's whole decision: it reads the state,
//! steps, and writes what the step says, with an alarm that deletes the state once idle.

use std::collections::BTreeMap;

use crate::metering::lease::{give_back, grant, Unspent};
use crate::metering::quota::{decide_all, Check, Decision, Policy, QuotaState, Window};

const DENIALS: &str = "denials";
pub const DENIAL_WINDOW_MS: u64 = 600_000;
/// How long an idle counter lingers past its longest window before its alarm deletes it.
pub const LINGER_MS: u64 = 60_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientState {
    pub states: BTreeMap<String, QuotaState>,
    /// `None` until the client is first counted.
    pub first_seen_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stepped {
    pub decision: Decision,
    pub first_seen_ms: u64,
    /// Denials in the last ten minutes, this one included.
    pub recent_denials: u32,
    /// When the state may be deleted if nothing else happens.
    pub alarm_at_ms: u64,
}

fn denial_window() -> Policy {
    let seconds = (DENIAL_WINDOW_MS / 1_000) as u32;
    Policy::new(
        Window::new(DENIALS, u32::MAX, seconds)
            .into_iter()
            .collect(),
    )
    .unwrap_or_else(|| unreachable!("a non-zero window"))
}

/// Decides `checks` at `now_ms`, counts a denial if it is one, and returns the next state.
pub fn step(current: &ClientState, checks: &[Check], now_ms: u64) -> (ClientState, Stepped) {
    let (states, decision) = decide_all(checks, &current.states, now_ms);
    let denial = Check {
        counter: DENIALS.into(),
        policy: denial_window(),
        cost: u32::from(!decision.allowed),
    };
    let (states, _) = decide_all(std::slice::from_ref(&denial), &states, now_ms);
    let recent_denials = states
        .get(DENIALS)
        .map(|s| {
            s.windows
                .iter()
                .flat_map(|w| &w.buckets)
                .map(|(_, n)| *n)
                .sum()
        })
        .unwrap_or(0);
    let first_seen_ms = current.first_seen_ms.unwrap_or(now_ms);
    // Every window the state keeps, not only this request's: a counter also holds the windows of
    // other policies (a tier the client was judged under before) and of other counters, and
    // deleting them early would start those counts afresh.
    let longest = checks
        .iter()
        .flat_map(|c| c.policy.windows())
        .map(|w| w.seconds)
        .chain(states.values().flat_map(|s| &s.windows).map(|w| w.seconds))
        .map(|seconds| u64::from(seconds) * 1_000)
        .max()
        .unwrap_or(0)
        .max(DENIAL_WINDOW_MS);
    let next = ClientState {
        states,
        first_seen_ms: Some(first_seen_ms),
    };
    let stepped = Stepped {
        decision,
        first_seen_ms,
        recent_denials,
        alarm_at_ms: now_ms + longest + LINGER_MS,
    };
    (next, stepped)
}

/// [`step`] for a request that may lease (`metering::lease`): the units given back are taken out
/// first, then each check is charged its cost plus what the counter grants of `wants`, all or
/// nothing; a request that fits only without the grants is charged without them. Returns the
/// grants beside the step.
pub fn step_leasing(
    current: &ClientState,
    checks: &[Check],
    wants: &[u32],
    unspent: &[Unspent],
    now_ms: u64,
) -> (ClientState, Stepped, Vec<u32>) {
    let mut given_back = current.clone();
    for u in unspent {
        if let Some(state) = given_back.states.get_mut(&u.counter) {
            give_back(state, u);
        }
    }
    let empty = QuotaState::default();
    let granted: Vec<u32> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let state = given_back.states.get(&c.counter).unwrap_or(&empty);
            grant(c, state, wants.get(i).copied().unwrap_or(0), now_ms)
        })
        .collect();
    let enlarged: Vec<Check> = checks
        .iter()
        .zip(&granted)
        .map(|(c, g)| Check {
            cost: c.cost.saturating_add(*g),
            ..c.clone()
        })
        .collect();
    let (_, fits) = decide_all(&enlarged, &given_back.states, now_ms);
    if fits.allowed && granted.iter().any(|g| *g > 0) {
        let (next, stepped) = step(&given_back, &enlarged, now_ms);
        return (next, stepped, granted);
    }
    let (next, stepped) = step(&given_back, checks, now_ms);
    (next, stepped, vec![0; checks.len()])
}

/// When to move the counter's alarm, if at all: the state must outlive `needed_at_ms`, and an
/// alarm already scheduled at or past it is kept. A moved alarm goes one more [`LINGER_MS`]
/// beyond, so that a busy client moves it once a minute rather than on every request (a storage
/// write each); an idle counter is deleted at most two lingers after its last use.
pub fn alarm_move(scheduled_ms: Option<u64>, needed_at_ms: u64) -> Option<u64> {
    match scheduled_ms {
        Some(at) if at >= needed_at_ms => None,
        _ => Some(needed_at_ms + LINGER_MS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: u32) -> Vec<Check> {
        vec![Check {
            counter: "route:main".into(),
            policy: Policy::new(vec![Window::new("minute", q, 60).unwrap()]).unwrap(),
            cost: 1,
        }]
    }

    #[test]
    fn denials_are_counted_over_ten_minutes_and_never_limit() {
        let mut s = ClientState::default();
        let mut last = None;
        for i in 0..10 {
            let (next, stepped) = step(&s, &check(2), 1_000 + i);
            s = next;
            last = Some(stepped);
        }
        assert_eq!(last.unwrap().recent_denials, 8);
        let (_, later) = step(&s, &check(2), 1_000 + DENIAL_WINDOW_MS + 20_000);
        assert_eq!(later.recent_denials, 0, "they slide out");
    }

    #[test]
    fn first_seen_is_the_first_step_ever() {
        let (s, first) = step(&ClientState::default(), &check(1), 5_000);
        assert_eq!(first.first_seen_ms, 5_000);
        let (_, again) = step(&s, &check(1), 9_000);
        assert_eq!(again.first_seen_ms, 5_000);
    }

    #[test]
    fn the_alarm_waits_for_the_longest_window_and_a_linger() {
        let (_, stepped) = step(&ClientState::default(), &check(1), 1_000);
        assert_eq!(stepped.alarm_at_ms, 1_000 + DENIAL_WINDOW_MS + LINGER_MS);
        let hourly = vec![Check {
            counter: "route:main".into(),
            policy: Policy::new(vec![Window::new("hour", 10, 3_600).unwrap()]).unwrap(),
            cost: 1,
        }];
        let (s, stepped) = step(&ClientState::default(), &hourly, 1_000);
        assert_eq!(stepped.alarm_at_ms, 1_000 + 3_600_000 + LINGER_MS);
        // A request under a per-minute tier next: the hour tier's count is still kept, and
        // waited for.
        let (_, stepped) = step(&s, &check(5), 2_000);
        assert_eq!(stepped.alarm_at_ms, 2_000 + 3_600_000 + LINGER_MS);
    }

    #[test]
    fn the_alarm_moves_once_a_linger_not_on_every_request() {
        assert_eq!(alarm_move(None, 1_000), Some(1_000 + LINGER_MS));
        let scheduled = 1_000 + LINGER_MS;
        assert_eq!(alarm_move(Some(scheduled), 1_500), None, "still far enough");
        assert_eq!(alarm_move(Some(scheduled), scheduled), None);
        assert_eq!(
            alarm_move(Some(scheduled), scheduled + 1),
            Some(scheduled + 1 + LINGER_MS)
        );
    }
}
