use super::*;
use proptest::prelude::*;

/// One isolate's view, with the counter answering at once.
fn first_use(counter: &mut Counter, grant: u32, cost: u32) -> Lease {
    let mut lease = Lease::default();
    assert!(lease.needs_counter(cost));
    lease.add(counter.lease(lease.ask(cost), grant));
    lease
}

/// An isolate that wants all it may: sized by what is left alone.
fn greedy(at_least: u32) -> Ask {
    Ask {
        at_least,
        want: u32::MAX,
    }
}

#[test]
fn a_lease_is_what_the_isolate_wants_within_half_of_what_is_left() {
    let ask = |at_least, want| Ask { at_least, want };
    assert_eq!(lease_size(60, greedy(1)), 30);
    assert_eq!(lease_size(1_000_000, greedy(1)), 500_000);
    assert_eq!(lease_size(1_000_000, ask(1, 40)), 40, "what it wants");
    assert_eq!(
        lease_size(1_000_000, ask(1, 2)),
        MIN_LEASE,
        "at least MIN_LEASE"
    );
    assert_eq!(lease_size(16, ask(1, 8)), 16, "all of a small rest");
    assert_eq!(lease_size(17, greedy(1)), 9);
    assert_eq!(
        lease_size(60, ask(45, 8)),
        45,
        "never less than the request needs"
    );
    assert_eq!(
        lease_size(5, greedy(6)),
        0,
        "nothing when the request does not fit"
    );
    assert_eq!(lease_size(0, greedy(1)), 0);
}

#[test]
fn a_lease_asks_for_twice_the_busier_of_the_last_two_windows() {
    let mut c = Counter::default();
    let mut l = first_use(&mut c, 1_000_000, 1);
    assert_eq!(
        l.leased, MIN_LEASE,
        "a first use has no history: the smallest lease"
    );
    l.add(c.lease(greedy(1), 64));
    for t in 0..30 {
        l.take(1, t * 100).unwrap();
    }
    assert_eq!(l.ask(1).want, 60, "30 in this window");
    for t in 0..5 {
        l.take(1, DEMAND_WINDOW_MS + t).unwrap();
    }
    assert_eq!(l.ask(1).want, 60, "the previous window was busier");
    l.take(1, 3 * DEMAND_WINDOW_MS).unwrap();
    assert_eq!(
        l.ask(1).want,
        MIN_LEASE,
        "a window ago is forgotten after a quiet one"
    );
}

#[test]
fn a_request_takes_its_whole_cost_or_nothing() {
    let mut c = Counter::default();
    let mut l = first_use(&mut c, 10, 3);
    assert_eq!(l.leased, 10, "a small grant is leased whole");
    assert_eq!(l.take(3, 0).map(|t| t.remaining), Some(7));
    assert_eq!(l.take(8, 0), None, "8 do not fit in 7");
    assert_eq!(l.used, 3, "a refusal spends nothing");
    assert_eq!(l.take(7, 0).map(|t| t.remaining), Some(0));
    assert_eq!(l.take(1, 0), None);
    assert!(
        !l.needs_counter(1),
        "the counter has nothing left to ask for"
    );
}

#[test]
fn the_next_lease_is_asked_for_once_half_is_gone_and_only_once() {
    let mut c = Counter::default();
    let mut l = Lease::default();
    l.add(c.lease(greedy(1), 1_000));
    assert_eq!((l.leased, l.counter_left), (500, 500));
    let mut renewals = 0;
    for _ in 0..251 {
        renewals += u32::from(l.take(1, 0).unwrap().renew);
    }
    assert_eq!(
        renewals, 1,
        "asked for at 250 left, not again while it runs"
    );
    l.renewed(Some(c.lease(greedy(1), 1_000)), 0);
    assert_eq!((l.leased, l.counter_left), (750, 250));
    assert_eq!(l.remaining(), 499 + 250);
}

#[test]
fn a_failed_renewal_is_retried_after_a_pause_not_on_every_request() {
    let mut c = Counter::default();
    let mut l = Lease::default();
    l.add(c.lease(greedy(1), 100));
    let renewals = |l: &mut Lease, at: u64| (0..5).filter(|_| l.take(1, at).unwrap().renew).count();
    while !l.take(1, 0).unwrap().renew {}
    l.renewed(None, 10);
    assert_eq!(renewals(&mut l, 500), 0, "within the pause");
    assert_eq!(renewals(&mut l, 10 + RENEW_BACKOFF_MS), 1, "once after it");
}

#[test]
fn a_payment_is_leased_or_redeemed_never_both() {
    let mut leased_first = Counter::default();
    assert_eq!(leased_first.lease(greedy(1), 10).granted, 10);
    assert!(
        !leased_first.claim("c1"),
        "a leased credential cannot be redeemed"
    );
    let mut nothing_fits = Counter::default();
    assert_eq!(nothing_fits.lease(greedy(11), 10).granted, 0);
    assert!(
        !nothing_fits.claim("c1"),
        "even a use that got nothing counts"
    );
    let mut claimed_first = Counter::default();
    assert!(claimed_first.claim("c1"));
    assert!(claimed_first.claim("c1"), "the same redemption, retried");
    assert!(
        !claimed_first.claim("c2"),
        "another challenge cannot claim it"
    );
    let refused = claimed_first.lease(greedy(1), 10);
    assert!(refused.redeemed);
    assert_eq!(refused.granted, 0, "nothing leased after the claim");
}

#[test]
fn a_second_isolate_starts_from_what_the_first_left() {
    let mut c = Counter::default();
    let mut a = Lease::default();
    a.add(c.lease(greedy(1), 60));
    while a.take(1, 0).is_some() {}
    let b = first_use(&mut c, 60, 1);
    assert_eq!((b.leased, b.counter_left), (MIN_LEASE, 30 - MIN_LEASE));
    let mut drained = Counter::default();
    let mut only = first_use(&mut drained, 20, 1);
    while only.take(1, 0).is_some() {
        if only.needs_counter(1) {
            only.add(drained.lease(only.ask(1), 20));
        }
    }
    let late = first_use(&mut drained, 20, 1);
    assert_eq!(
        late.leased, 0,
        "a spent grant leases nothing to a fresh isolate"
    );
}

#[derive(Debug, Clone)]
enum Step {
    /// Isolate `i` admits a request of this cost (asking the counter when it must).
    Request(usize, u32),
    /// Isolate `i`'s background renewal lands.
    Renewal(usize),
    /// Isolate `i` goes away; a fresh one takes its place.
    Evict(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..4, 1u32..6).prop_map(|(i, c)| Step::Request(i, c)),
        2 => (0usize..4).prop_map(Step::Renewal),
        1 => (0usize..4).prop_map(Step::Evict),
    ]
}

proptest! {
    /// Across isolates, under any interleaving of requests, renewals and evictions, the
    /// units admitted never exceed the grant, and every unit is admitted, stranded in an
    /// evicted isolate's lease, still leased, or still at the counter.
    #[test]
    fn isolates_together_never_exceed_the_grant(
        grant in 1u32..2_000,
        steps in prop::collection::vec(step(), 1..400),
    ) {
        let mut counter = Counter::default();
        let mut isolates = vec![Lease::default(); 4];
        let mut pending = [false; 4];
        let (mut admitted, mut stranded, mut calls, mut requests) = (0u32, 0u32, 0u32, 0u32);
        let mut now = 0u64;
        for s in steps {
            match s {
                Step::Request(i, cost) => {
                    requests += 1;
                    now += 50;
                    let l = &mut isolates[i];
                    if l.needs_counter(cost) {
                        calls += 1;
                        l.add(counter.lease(l.ask(cost), grant));
                    }
                    if let Some(t) = l.take(cost, now) {
                        admitted += cost;
                        pending[i] |= t.renew;
                    }
                }
                Step::Renewal(i) if pending[i] => {
                    calls += 1;
                    pending[i] = false;
                    let ask = isolates[i].ask(1);
                    isolates[i].renewed(Some(counter.lease(ask, grant)), now);
                }
                Step::Renewal(_) => {}
                Step::Evict(i) => {
                    stranded += isolates[i].unspent();
                    isolates[i] = Lease::default();
                    pending[i] = false;
                }
            }
        }
        let held: u32 = isolates.iter().map(Lease::unspent).sum();
        let leased = counter.leased.unwrap_or(0);
        prop_assert!(admitted <= grant);
        prop_assert!(leased <= grant);
        prop_assert_eq!(admitted + stranded + held, leased);
        prop_assert!(requests == 0 || calls >= 1, "a first use asks the counter");
    }

    /// One isolate with its renewals landing spends the whole grant, one unit at a time,
    /// with a number of counter calls that grows with the logarithm of the grant.
    #[test]
    fn one_isolate_gets_all_of_the_grant_in_few_calls(grant in 1u32..1_000_000) {
        let mut counter = Counter::default();
        let mut lease = Lease::default();
        let (mut admitted, mut calls) = (0u64, 0u32);
        loop {
            if lease.needs_counter(1) {
                calls += 1;
                lease.add(counter.lease(lease.ask(1), grant));
            }
            let Some(t) = lease.take(1, 0) else { break };
            admitted += 1;
            if t.renew {
                calls += 1;
                lease.renewed(Some(counter.lease(lease.ask(1), grant)), 0);
            }
        }
        prop_assert_eq!(admitted, u64::from(grant));
        // Two logarithms: while the grant is large, each lease is twice what the isolate admitted
        // before it (its whole use is in one window here), so the units leased at least double
        // per call; once half of what is left is smaller, each call halves the tail.
        let bound = 2 + 2 * (f64::from(grant) / f64::from(MIN_LEASE)).log2().max(0.0).ceil() as u32;
        prop_assert!(calls <= bound, "{calls} calls for a grant of {grant}, bound {bound}");
    }
}

/// Four isolates taking a client's requests in turn, each renewing in the background as it goes.
/// Sized by what is left alone, the first held half of the grant and the last starved; sized by
/// demand, no request is refused while the counter and the other isolates together hold more
/// than the leases' bound, and what the isolates hold unspent stays within it.
#[test]
fn isolates_in_turn_share_a_grant_without_starving_one() {
    let grant = 40_000;
    let mut counter = Counter::default();
    let mut isolates = vec![Lease::default(); 4];
    let (mut admitted, mut now) = (0u32, 0u64);
    // A request every 2 ms, in turn: each isolate admits one every 8 ms, this many a window.
    let per_window = (DEMAND_WINDOW_MS / 8) as u32;
    // An isolate holds at most its new lease (twice a window's use) and the unspent half of the
    // one before (at most a window's use) when a renewal lands; the tail rule adds 2 × MIN_LEASE.
    let bound = 4 * 3 * per_window + 2 * MIN_LEASE;
    for n in 0.. {
        now += 2;
        let l = &mut isolates[n % 4];
        if l.needs_counter(1) {
            l.add(counter.lease(l.ask(1), grant));
        }
        match l.take(1, now) {
            Some(t) => {
                admitted += 1;
                if t.renew {
                    let ask = l.ask(1);
                    l.renewed(Some(counter.lease(ask, grant)), now);
                }
            }
            None => break,
        }
        let held: u32 = isolates.iter().map(Lease::unspent).sum();
        assert!(
            held <= bound,
            "{held} held unspent at {admitted}, bound {bound}"
        );
    }
    let held: u32 = isolates.iter().map(Lease::unspent).sum();
    assert!(
        grant - admitted <= bound,
        "refused with {} left, {held} of them held",
        grant - admitted
    );
    assert_eq!(admitted + held, counter.leased.unwrap_or(0));
}
