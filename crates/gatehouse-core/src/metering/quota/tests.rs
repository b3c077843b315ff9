use super::*;
use proptest::prelude::*;

fn per_minute(q: u32) -> Policy {
    Policy::new(vec![Window::new("minute", q, 60).unwrap()]).unwrap()
}

fn run(policy: &Policy, times: &[u64], cost: u32) -> Vec<(u64, Decision)> {
    let mut state = QuotaState::default();
    times
        .iter()
        .map(|&t| {
            let (next, d) = decide(policy, &state, cost, t);
            state = next;
            (t, d)
        })
        .collect()
}

#[test]
fn sixty_per_minute_admits_sixty_then_denies_with_retry_after() {
    let policy = per_minute(60);
    let times: Vec<u64> = (0..61).map(|i| 1_000_000 + i * 10).collect();
    let out = run(&policy, &times, 1);
    assert!(out[..60].iter().all(|(_, d)| d.allowed));
    let (_, last) = &out[60];
    assert!(!last.allowed);
    assert_eq!(last.windows[0].remaining, 0);
    // Everything sits in bucket 1000 (1 s buckets), which leaves at 1001 s + 60 s.
    assert_eq!(last.retry_after_s, Some(61));
}

#[test]
fn remaining_counts_down_and_reset_is_reported() {
    let out = run(&per_minute(3), &[5_000, 5_500], 1);
    assert_eq!(out[0].1.windows[0].remaining, 2);
    assert_eq!(out[1].1.windows[0].remaining, 1);
    assert_eq!(out[1].1.windows[0].reset_s, 61);
    assert_eq!(out[1].1.retry_after_s, None);
}

#[test]
fn a_denial_does_not_consume_quota() {
    let policy = per_minute(1);
    let (s1, d1) = decide(&policy, &QuotaState::default(), 1, 0);
    assert!(d1.allowed);
    let (s2, d2) = decide(&policy, &s1, 1, 10);
    assert!(!d2.allowed);
    assert_eq!(s1, s2);
}

#[test]
fn every_window_must_fit_and_the_longest_wait_wins() {
    let policy = Policy::new(vec![
        Window::new("minute", 10, 60).unwrap(),
        Window::new("hour", 3, 3_600).unwrap(),
    ])
    .unwrap();
    let out = run(&policy, &[0, 1, 2, 3], 1);
    let denied = &out[3].1;
    assert!(!denied.allowed);
    assert_eq!(denied.tightest().unwrap().name, "hour");
    // Hour buckets are 60 s long: bucket 0 leaves at 60 s + 3600 s.
    assert_eq!(denied.retry_after_s, Some(3_660));
}

#[test]
fn a_cost_above_the_quota_never_fits_and_waits_a_window() {
    let (_, d) = decide(&per_minute(5), &QuotaState::default(), 6, 0);
    assert!(!d.allowed);
    assert_eq!(d.retry_after_s, Some(60));
}

#[test]
fn state_for_a_changed_window_length_is_ignored() {
    let old = QuotaState {
        windows: vec![WindowCounts {
            seconds: 30,
            buckets: vec![(0, 99)],
        }],
    };
    let (_, d) = decide(&per_minute(5), &old, 1, 10);
    assert!(d.allowed);
}

#[test]
fn state_survives_a_serde_round_trip() {
    let (state, _) = decide(&per_minute(5), &QuotaState::default(), 2, 12_345);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<QuotaState>(&json).unwrap(), state);
}

/// Request times: a sorted sequence with bursts and gaps, within a few windows.
fn arrivals() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(0u64..5_000, 1..400).prop_map(|gaps| {
        let mut t = 1_000_000u64;
        gaps.into_iter()
            .map(|g| {
                // Mostly tight gaps, sometimes long pauses.
                t += if g > 4_900 { g * 20 } else { g / 10 };
                t
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_admits_more_than_quota_in_any_sliding_window(
        q in 1u32..50, w in prop::sample::select(vec![1u32, 7, 60, 3600]), times in arrivals(), cost in 1u32..3,
    ) {
        let policy = Policy::new(vec![Window::new("w", q, w).unwrap()]).unwrap();
        let admitted: Vec<u64> = run(&policy, &times, cost)
            .into_iter()
            .filter(|(_, d)| d.allowed)
            .map(|(t, _)| t)
            .collect();
        let w_ms = u64::from(w) * 1_000;
        for (i, &end) in admitted.iter().enumerate() {
            let in_window = admitted[..=i].iter().filter(|&&a| a + w_ms > end).count() as u64;
            prop_assert!(in_window * u64::from(cost) <= u64::from(q),
                "{} admitted within {w} s ending at {end}", in_window);
        }
    }

    #[test]
    fn retry_after_is_never_early(
        q in 1u32..30, w in prop::sample::select(vec![1u32, 60, 3600]), times in arrivals(), cost in 1u32..3,
    ) {
        let policy = Policy::new(vec![Window::new("w", q, w).unwrap()]).unwrap();
        prop_assume!(cost <= q);
        let mut state = QuotaState::default();
        for &t in &times {
            let (next, d) = decide(&policy, &state, cost, t);
            if let Some(retry) = d.retry_after_s {
                let back = t + u64::from(retry) * 1_000;
                let (_, again) = decide(&policy, &state, cost, back);
                prop_assert!(again.allowed, "denied again at +{retry} s");
                // Not needlessly late either: a second earlier it must still be denied,
                // unless the whole-second rounding is what made the wait.
                if retry > 1 {
                    let (_, early) = decide(&policy, &state, cost, back - 1_000);
                    prop_assert!(!early.allowed, "retry_after {retry} s was a second too long");
                }
            }
            state = next;
        }
    }

    #[test]
    fn reset_seconds_tell_when_remaining_grows(q in 2u32..20, times in arrivals()) {
        let policy = per_minute(q);
        let mut state = QuotaState::default();
        for &t in &times {
            let (next, d) = decide(&policy, &state, 1, t);
            state = next;
            let status = &d.windows[0];
            if status.remaining < q {
                let later = t + u64::from(status.reset_s) * 1_000;
                let (_, probe) = decide(&policy, &state, 0, later);
                prop_assert!(probe.windows[0].remaining > status.remaining);
            }
        }
    }
}

#[test]
fn decide_all_charges_every_counter_or_none() {
    let route = Policy::new(vec![Window::new("minute", 10, 60).unwrap()]).unwrap();
    let heavy = Policy::new(vec![Window::new("heavy", 2, 60).unwrap()]).unwrap();
    let checks = |heavy_cost| {
        vec![
            Check {
                counter: "route".into(),
                policy: route.clone(),
                cost: 1,
            },
            Check {
                counter: "heavy".into(),
                policy: heavy.clone(),
                cost: heavy_cost,
            },
        ]
    };
    let mut states = std::collections::BTreeMap::new();
    for i in 0..2 {
        let (next, d) = decide_all(&checks(1), &states, i * 10);
        assert!(d.allowed);
        states = next;
    }
    let (after_denial, d) = decide_all(&checks(1), &states, 30);
    assert!(!d.allowed);
    assert_eq!(d.tightest().unwrap().name, "heavy");
    assert_eq!(d.retry_after_s, Some(61), "bucket 0 leaves at 61 s");
    // The route counter was not charged by the denied request: a call without the heavy tool fits.
    let light = vec![Check {
        counter: "route".into(),
        policy: route.clone(),
        cost: 1,
    }];
    let (_, d) = decide_all(&light, &after_denial, 40);
    assert!(d.allowed);
    assert_eq!(d.windows[0].remaining, 7);
}

/// Units charged to counter `c` in all its windows.
fn charged_units(states: &std::collections::BTreeMap<String, QuotaState>) -> u32 {
    states
        .get("c")
        .map(|s| s.windows.iter().flat_map(|w| &w.buckets).map(|b| b.1).sum())
        .unwrap_or(0)
}

#[test]
fn asking_fits_exactly_when_charging_would_and_charges_nothing() {
    use std::collections::BTreeMap;
    let policy = Policy::new(vec![Window::new("minute", 5, 60).unwrap()]).unwrap();
    for cost in [1, 2, 5, 6] {
        let check = Check {
            counter: "c".into(),
            policy: policy.clone(),
            cost,
        };
        let mut states = BTreeMap::new();
        for _ in 0..8 {
            let (asked_states, asked) = decide_all(&[check.asking()], &states, 1_000);
            let (charged_states, charged) =
                decide_all(std::slice::from_ref(&check), &states, 1_000);
            assert_eq!(asked.allowed, charged.allowed, "cost {cost}");
            assert_eq!(
                charged_units(&asked_states),
                charged_units(&states),
                "asking charged nothing"
            );
            states = charged_states;
        }
    }
}
