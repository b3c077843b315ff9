//! Policies in turn on one counter's state: each keeps its own windows' counts, and the state
//! stays bounded.

use super::*;
use proptest::prelude::*;

fn windows(ws: &[(u32, u32)]) -> Policy {
    Policy::new(
        ws.iter()
            .map(|&(q, s)| Window::new("w", q, s).unwrap())
            .collect(),
    )
    .unwrap()
}

/// Each window's length appears once, with at most `BUCKETS + 1` buckets, and there are at most
/// `MAX_WINDOWS` lengths, or the policy's own when it has more (the module's bound).
fn assert_bounded(state: &QuotaState, policy: &Policy) {
    let mut own: Vec<u32> = policy.windows().iter().map(|w| w.seconds).collect();
    own.sort_unstable();
    own.dedup();
    assert!(state.windows.len() <= MAX_WINDOWS.max(own.len()));
    for (i, c) in state.windows.iter().enumerate() {
        assert!(
            c.buckets.len() as u64 <= BUCKETS + 1,
            "{} buckets",
            c.buckets.len()
        );
        assert!(state.windows[..i].iter().all(|k| k.seconds != c.seconds));
    }
}

#[test]
fn two_policies_in_turn_on_one_state_never_reset_each_other() {
    let minute = windows(&[(10, 60)]);
    let hour = windows(&[(30, 3_600)]);
    // The minute policy's count survives the hour policy's turns.
    let mut state = QuotaState::default();
    for i in 0..10 {
        let (next, d) = decide(&minute, &state, 1, 1_000_000 + i);
        assert!(d.allowed);
        state = next;
    }
    let (next, d) = decide(&hour, &state, 1, 1_000_100);
    assert!(d.allowed);
    state = next;
    let (_, d) = decide(&minute, &state, 1, 1_000_200);
    assert!(
        !d.allowed,
        "the hour policy's turn reset the minute's count"
    );
    assert_eq!(d.windows[0].remaining, 0);

    // A request a second for an hour and more, the two policies in turn: the hour policy admits
    // its 30 and no more, and the minute policy its 10 in any minute.
    let mut state = QuotaState::default();
    let (mut under_minute, mut under_hour) = (Vec::new(), Vec::new());
    for i in 0..4_000u64 {
        let now = 1_000_000 + i * 1_000;
        let (policy, admitted) = if i % 2 == 0 {
            (&minute, &mut under_minute)
        } else {
            (&hour, &mut under_hour)
        };
        let (next, d) = decide(policy, &state, 1, now);
        if d.allowed {
            admitted.push(now);
        }
        state = next;
        assert_bounded(&state, policy);
        assert_eq!(state.windows.len(), if i == 0 { 1 } else { 2 });
    }
    let in_an_hour = under_hour
        .iter()
        .filter(|&&t| t < 1_000_000 + 3_600_000)
        .count();
    assert_eq!(in_an_hour, 30);
    for &end in &under_minute {
        let n = under_minute
            .iter()
            .filter(|&&t| t <= end && t + 60_000 > end)
            .count();
        assert!(n <= 10, "{n} admitted under the minute policy in a minute");
    }
    assert!(under_minute.len() > 10, "the minute policy refills");
}

#[test]
fn a_length_no_policy_uses_any_more_is_dropped_once_it_has_slid_out() {
    let minute = windows(&[(10, 60)]);
    let hour = windows(&[(30, 3_600)]);
    let (state, _) = decide(&minute, &QuotaState::default(), 1, 1_000_000);
    let (state, _) = decide(&hour, &state, 1, 1_000_000 + 30_000);
    assert_eq!(state.windows.len(), 2, "still counted");
    // Bucket 1000 (1 s) leaves the minute window at 1001 s + 60 s.
    let (state, _) = decide(&hour, &state, 1, 1_061_000 - 1);
    assert_eq!(state.windows.len(), 2);
    let (state, _) = decide(&hour, &state, 1, 1_061_000 + 1_000);
    assert_eq!(state.windows.len(), 1);
    assert_eq!(state.windows[0].seconds, 3_600);
}

#[test]
fn the_state_stays_bounded_whatever_policies_it_sees() {
    // Long windows that never slide out within the run, each length new: the cap is what holds.
    let mut state = QuotaState::default();
    let mut now = 1_000_000u64;
    for i in 0..500u32 {
        let policy = windows(&[(1_000, 86_400 + i % 80), (1_000, 30 + i % 7)]);
        for _ in 0..3 {
            let (next, d) = decide(&policy, &state, 1, now);
            assert!(d.allowed);
            state = next;
            assert_bounded(&state, &policy);
            now += 37_000;
        }
    }
    assert_eq!(state.windows.len(), MAX_WINDOWS);
    // A policy with more lengths than the cap keeps all of its own.
    let wide: Vec<(u32, u32)> = (0..MAX_WINDOWS as u32 + 4).map(|i| (100, 60 + i)).collect();
    let (state, _) = decide(&windows(&wide), &state, 1, now);
    assert_eq!(state.windows.len(), wide.len());
    assert!(state
        .windows
        .iter()
        .all(|c| wide.iter().any(|w| w.1 == c.seconds)));
    // A busy window holds a bucket per bucket length it spans and one for the bucket it starts
    // in: the bound is reached, never passed.
    let busy = windows(&[(100_000, 60)]);
    let (mut state, mut most) = (state, 0);
    for _ in 0..600 {
        let (next, _) = decide(&busy, &state, 1, now);
        state = next;
        assert_bounded(&state, &busy);
        most = most.max(state.windows[0].buckets.len());
        now += 500;
    }
    assert_eq!(most as u64, BUCKETS + 1);
}

/// A small set of policies sharing some lengths (7 s, a minute, an hour) and not others.
fn tiers() -> Vec<Policy> {
    vec![
        windows(&[(10, 60)]),
        windows(&[(30, 3_600)]),
        windows(&[(4, 60), (20, 3_600)]),
        windows(&[(3, 7)]),
        windows(&[(2, 1), (25, 60)]),
    ]
}

/// Requests under random policies of [`tiers`] at sorted times: bursts, pauses of minutes, and
/// now and then one past an hour.
fn switching() -> impl Strategy<Value = Vec<(usize, u64, u32)>> {
    prop::collection::vec((0usize..5, 0u64..10_000, 1u32..3), 1..300).prop_map(|events| {
        let mut t = 1_000_000u64;
        events
            .into_iter()
            .map(|(p, g, cost)| {
                t += match g {
                    9_990.. => g * 400,
                    9_000.. => g * 30,
                    _ => g / 20,
                };
                (p, t, cost)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn policies_in_turn_each_admit_no_more_than_their_quota(events in switching()) {
        let tiers = tiers();
        let mut state = QuotaState::default();
        // Per policy, every admission under it: when, and at what cost.
        let mut admitted: Vec<Vec<(u64, u32)>> = vec![Vec::new(); tiers.len()];
        for (p, now, cost) in events {
            let (next, d) = decide(&tiers[p], &state, cost, now);
            if d.allowed {
                admitted[p].push((now, cost));
            }
            state = next;
            assert_bounded(&state, &tiers[p]);
            prop_assert!(state.windows.len() <= 4, "one per length the set uses");
        }
        for (policy, admitted) in tiers.iter().zip(&admitted) {
            for w in policy.windows() {
                let w_ms = u64::from(w.seconds) * 1_000;
                for &(end, _) in admitted {
                    let units: u32 = admitted
                        .iter()
                        .filter(|(t, _)| *t <= end && t + w_ms > end)
                        .map(|(_, c)| c)
                        .sum();
                    prop_assert!(units <= w.quota,
                        "{units} admitted in {} s ending at {end}, quota {}", w.seconds, w.quota);
                }
            }
        }
    }
}

/// A client judged under a dozen tiers, each with its own window lengths (three tiers of four
/// windows make twelve), cannot push its first tier's count out by visiting the others.
#[test]
fn many_tiers_in_turn_do_not_push_a_count_out() {
    let first = windows(&[(10, 60)]);
    let others: Vec<Policy> = (0..12u32)
        .map(|i| windows(&[(1_000, 120 + i), (1_000, 86_400 + i)]))
        .collect();
    let (mut state, mut now, mut admitted) = (QuotaState::default(), 1_000_000u64, 0);
    for _ in 0..5 {
        for _ in 0..10 {
            let (next, d) = decide(&first, &state, 1, now);
            admitted += u32::from(d.allowed);
            state = next;
            now += 10;
        }
        for p in &others {
            state = decide(p, &state, 1, now).0;
            now += 10;
        }
    }
    assert_eq!(admitted, 10, "10 a minute, however many tiers came between");
}
