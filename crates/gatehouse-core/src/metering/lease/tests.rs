use proptest::prelude::*;

use super::*;
use crate::metering::client_counter::{step_leasing, ClientState};
use crate::metering::quota::decide;
use crate::metering::quota::{Policy, Window};

const CLIENT: &str = "key:agent";

fn check(cost: u32, per_minute: u32) -> Check {
    Check {
        counter: "route:main".into(),
        policy: Policy::new(vec![
            Window::new("minute", per_minute, 60).unwrap(),
            Window::new("hour", per_minute * 20, 3_600).unwrap(),
        ])
        .unwrap(),
        cost,
    }
}

/// A client's counter and the isolates in front of it, as the shell drives them: each request is
/// admitted from the isolate's leases, or else asks the counter (giving back what expired).
struct World {
    counter: ClientState,
    isolates: Vec<Leases>,
    /// Every admitted unit: when the counter counted it, and when it was admitted.
    admitted: Vec<(u64, u64)>,
    /// Every admitted unit's policy, beside `admitted`.
    under: Vec<Policy>,
    calls: u32,
}

impl World {
    fn new(isolates: usize) -> Self {
        Self {
            counter: ClientState::default(),
            isolates: (0..isolates).map(|_| Leases::default()).collect(),
            admitted: Vec::new(),
            under: Vec::new(),
            calls: 0,
        }
    }

    /// One request at isolate `i` at `now`; whether it was admitted.
    fn request(&mut self, i: usize, c: &Check, now: u64) -> bool {
        let leases = &mut self.isolates[i];
        if leases.spend(CLIENT, std::slice::from_ref(c), now).is_some() {
            let counted = leases.last_counted_at(CLIENT, &c.counter);
            self.admitted.extend((0..c.cost).map(|_| (counted, now)));
            self.under.extend((0..c.cost).map(|_| c.policy.clone()));
            return true;
        }
        let (wants, unspent) = leases.asking(CLIENT, std::slice::from_ref(c), now);
        self.calls += 1;
        let (next, stepped, granted) = step_leasing(
            &self.counter,
            std::slice::from_ref(c),
            &wants,
            &unspent,
            now,
        );
        self.counter = next;
        if !stepped.decision.allowed {
            return false;
        }
        leases.record(
            CLIENT,
            std::slice::from_ref(c),
            &granted,
            &stepped.decision,
            now,
            now,
        );
        self.admitted.extend((0..c.cost).map(|_| (now, now)));
        self.under.extend((0..c.cost).map(|_| c.policy.clone()));
        true
    }
}

impl Leases {
    /// When the lease a unit was just spent from was counted.
    fn last_counted_at(&self, client: &str, counter: &str) -> u64 {
        self.held[&key(client, counter)].counted_at_ms
    }
}

#[test]
fn a_client_that_calls_now_and_then_is_counted_call_by_call() {
    let mut w = World::new(1);
    let c = check(1, 60);
    for n in 0..30u64 {
        assert!(w.request(0, &c, n * (LEASE_MS + 5_000)));
    }
    assert_eq!(w.calls, 30, "every request asked the counter");
    // What it holds is what it would have spent at its own pace: twice one call, given back once
    // the lease is over.
    assert!(w.isolates[0].held_units(CLIENT) <= 2);
    let back = w.isolates[0].take_unspent(CLIENT, 31 * (LEASE_MS + 5_000));
    assert!(back.iter().map(|u| u.units).sum::<u32>() <= 2);
    assert_eq!(w.isolates[0].held_units(CLIENT), 0);
}

#[test]
fn a_busy_client_calls_the_counter_rarely_and_the_quota_still_ends_where_it_should() {
    let mut w = World::new(1);
    let c = check(1, 100_000);
    let admitted = (0..20_000u64).filter(|n| w.request(0, &c, *n)).count();
    assert_eq!(admitted, 20_000);
    assert!(
        w.calls * 100 <= 20_000,
        "{} counter calls for 20,000 requests",
        w.calls
    );
    // Near the quota every request is the counter's again: exactly 60 of a 60 quota.
    let mut near = World::new(3);
    let small = check(1, 60);
    let served = (0..200u64)
        .filter(|n| near.request((n % 3) as usize, &small, n * 10))
        .count();
    assert_eq!(served, 60);
}

#[test]
fn what_an_isolate_did_not_spend_is_given_back_and_counted_again_for_others() {
    let mut w = World::new(2);
    let c = check(1, 100);
    for n in 0..40 {
        w.request(0, &c, n);
    }
    let held = w.isolates[0].held_units(CLIENT);
    assert!(held > 0, "a lease is held");
    // After the lease expires, the next call from that isolate gives it back; the other
    // isolate then gets the whole rest of the quota.
    w.request(0, &c, 40 + LEASE_MS);
    let rest = (0..200u64)
        .filter(|n| w.request(1, &c, 50 + LEASE_MS + n))
        .count();
    let admitted = w.admitted.len() as u32;
    let still_held = w.isolates[0].held_units(CLIENT);
    assert!(rest > 0);
    assert_eq!(
        admitted + still_held,
        100,
        "the quota: no unit lost, none twice"
    );
}

/// The most units counted (by when the counter counted them) in any minute.
fn most_in_a_minute(admitted: &[(u64, u64)]) -> usize {
    most_within(admitted.iter().map(|(c, _)| *c).collect(), 60_000)
}

/// The most of `counted` instants in any `w_ms`.
fn most_within(mut counted: Vec<u64>, w_ms: u64) -> usize {
    counted.sort_unstable();
    (0..counted.len())
        .map(|j| j + 1 - counted.partition_point(|x| *x + w_ms <= counted[j]))
        .max()
        .unwrap_or(0)
}

fn tier(name: &str, quota: u32, seconds: u32, cost: u32) -> Check {
    Check {
        counter: "route:main".into(),
        policy: Policy::new(vec![Window::new(name, quota, seconds).unwrap()]).unwrap(),
        cost,
    }
}

#[test]
fn a_give_back_takes_units_only_out_of_the_windows_they_were_counted_in() {
    // One identity in two tiers on one counter: the hour tier admits, the minute tier leases in
    // the same minute, and the lease's rest comes back with the hour tier's next request.
    let (hour, minute) = (tier("hour", 30, 3_600, 1), tier("minute", 1_000, 60, 1));
    let t = 1_000_000;
    let start = ClientState::default();
    let (s, _, _) = step_leasing(&start, std::slice::from_ref(&hour), &[0], &[], t);
    let (s, stepped, granted) =
        step_leasing(&s, std::slice::from_ref(&minute), &[100], &[], t + 10);
    assert_eq!(granted, vec![100]);
    let mut leases = Leases::default();
    let minutes = std::slice::from_ref(&minute);
    leases.record(CLIENT, minutes, &granted, &stepped.decision, t + 10, t + 10);
    let (_, unspent) = leases.asking(CLIENT, std::slice::from_ref(&hour), t + 20);
    assert_eq!(unspent[0].seconds, vec![60]);
    let (s, stepped, _) = step_leasing(&s, std::slice::from_ref(&hour), &[0], &unspent, t + 20);
    assert_eq!(
        stepped.decision.windows[0].remaining, 28,
        "the hour tier's first admission is still counted"
    );
    let (_, d) = decide(&minute.policy, &s.states["route:main"], 0, t + 30);
    assert_eq!(
        d.windows[0].remaining, 999,
        "the rest went back to the minute"
    );
}

#[test]
fn a_give_back_never_takes_out_admissions_counted_after_its_bucket() {
    // One isolate leases and goes quiet; another keeps calling for longer than the window, so
    // the bucket the lease was counted in slides out; then the first gives back.
    let mut w = World::new(2);
    let c = check(1, 100);
    let mut t = 1_000_000;
    for _ in 0..12 {
        w.request(0, &c, t);
        t += 10;
    }
    assert!(w.isolates[0].held_units(CLIENT) > 0, "a lease is held");
    for _ in 0..200 {
        w.request(1, &c, t);
        t += 400;
    }
    for _ in 0..300 {
        w.request(0, &c, t);
        w.request(1, &c, t);
        t += 20;
    }
    assert!(
        most_in_a_minute(&w.admitted) <= 100,
        "{}",
        most_in_a_minute(&w.admitted)
    );
}

proptest! {
    #[test]
    fn isolates_never_admit_past_what_was_counted(
        events in prop::collection::vec((0usize..4, 0u64..1_500, 1u32..3, any::<bool>(), 0u8..20), 1..400),
        per_minute in prop::sample::select(vec![20u32, 60, 500, 5_000]),
    ) {
        let mut w = World::new(4);
        let mut now = 1_000_000u64;
        for (i, dt, cost, burst, evict) in events {
            // Now and then a long quiet stretch, past a bucket or the whole window.
            now += if burst { dt / 50 } else if evict == 1 { dt * 50 } else { dt };
            if evict == 0 {
                // The isolate goes away: what it held is stranded, never spent.
                w.isolates[i] = Leases::default();
                continue;
            }
            w.request(i, &check(cost, per_minute), now);
        }
        // Every unit was admitted no sooner than it was counted and within a lease's life.
        for (counted, at) in &w.admitted {
            prop_assert!(counted <= at && *at <= counted + LEASE_MS);
        }
        // Counted units, by when they were counted, never exceed the quota in any minute: the
        // counter's sliding window holds for what the isolates admitted.
        let most = most_in_a_minute(&w.admitted);
        prop_assert!(most as u32 <= per_minute, "{most} in a minute");
    }
}

proptest! {
    #[test]
    fn tiers_in_turn_through_leases_each_stay_within_their_quota(
        events in prop::collection::vec(
            (0usize..3, 0u64..3_000, 1u32..3, any::<bool>(), any::<bool>()), 1..400),
    ) {
        // One counter, two tiers with no window length in common, three isolates.
        let tiers = |cost| [tier("minute", 60, 60, cost), tier("hour", 200, 3_600, cost)];
        let mut w = World::new(3);
        let mut now = 1_000_000u64;
        for (i, dt, cost, hourly, burst) in events {
            now += if burst { dt / 50 } else { dt };
            w.request(i, &tiers(cost)[usize::from(hourly)], now);
        }
        for c in tiers(1) {
            let window = &c.policy.windows()[0];
            let counted: Vec<u64> = w
                .admitted
                .iter()
                .zip(&w.under)
                .filter(|(_, p)| **p == c.policy)
                .map(|((counted, _), _)| *counted)
                .collect();
            let most = most_within(counted, u64::from(window.seconds) * 1_000);
            prop_assert!(most as u32 <= window.quota, "{most} under {} in its window", window.name);
        }
    }
}
