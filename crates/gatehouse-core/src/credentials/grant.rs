//! How a credential's grant is spent: the rule behind every admission by access token or L402
//! credential (docs/PROTOCOL.md §1).
//!
//! A grant counts calls, not HTTP requests: a request is charged what its calls cost
//! (`policy::charge::cost`), and is refused whole when the grant has less left, so a batch cannot
//! carry a thousand calls on one use.
//!
//! The grant is split into leases. The credential's counter (one Durable Object per credential)
//! hands each isolate a [`Lease`] of units out of what is left; the isolate spends from it with
//! no I/O, and asks for the next lease in the background once half of the current one is gone.
//! Units are counted when they are leased, so the isolates together can never admit more than
//! the grant: **the overshoot is zero**. The price is the other way round: an isolate that goes
//! away strands the unspent part of its lease, at most half of what was left when it took it
//! (or [`MIN_LEASE`] units). A credential's first use in an isolate waits for its first lease;
//! after that, a busy isolate calls the counter about once per halving of what is left,
//! `log2(grant / MIN_LEASE)` times over the whole grant, never per request.

use serde::{Deserialize, Serialize};

/// Below this many units left, a lease takes all of them: the tail of a grant is not worth a
/// call per unit.
pub const MIN_LEASE: u32 = 8;

/// After a renewal failed, the next is tried no sooner than this: a counter that is down must
/// not be asked on every request.
pub const RENEW_BACKOFF_MS: u64 = 1_000;

/// How many units a lease hands out when `left` are left and the isolate needs `at_least`:
/// half of what is left (so that other isolates still find some), never fewer than the request
/// needs, and all of a small rest. Zero when the request does not fit.
pub fn lease_size(left: u32, at_least: u32) -> u32 {
    if at_least > left || left == 0 {
        return 0;
    }
    let half = left.div_ceil(2);
    let size = if left <= MIN_LEASE * 2 { left } else { half };
    size.max(at_least)
}

/// What this isolate holds of a credential's grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lease {
    /// Units leased to this isolate in all.
    pub leased: u32,
    /// Units this isolate admitted.
    pub used: u32,
    /// The size of the latest lease: the next is asked for once half of it is gone.
    pub last: u32,
    /// What the counter had left after the latest lease (for the remaining shown to clients).
    pub counter_left: u32,
    /// Whether the counter has been asked at all (a first use waits for it).
    pub seen: bool,
    /// A lease is being asked for in the background.
    pub renewing: bool,
    /// No renewal before this instant (after one failed).
    pub renew_after_ms: u64,
}

/// An admission from the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Units of the grant left for the client, as far as this isolate knows.
    pub remaining: u32,
    /// Whether to ask the counter for the next lease now, in the background.
    pub renew: bool,
}

impl Lease {
    /// Units leased here and not yet spent.
    pub fn unspent(&self) -> u32 {
        self.leased - self.used
    }

    /// Whether the counter must be asked before `cost` units can be admitted: a first use, or a
    /// lease too small while the counter still has enough left.
    pub fn needs_counter(&self, cost: u32) -> bool {
        !self.seen || (cost > self.unspent() && self.counter_left >= cost - self.unspent())
    }

    /// Takes `cost` units from the lease if they all fit; `None` leaves it as it was.
    pub fn take(&mut self, cost: u32, now_ms: u64) -> Option<Taken> {
        if !self.seen || cost > self.unspent() {
            return None;
        }
        self.used += cost;
        let renew = !self.renewing
            && now_ms >= self.renew_after_ms
            && self.counter_left > 0
            && self.unspent() < self.last.div_ceil(2).max(1);
        if renew {
            self.renewing = true;
        }
        Some(Taken {
            remaining: self.remaining(),
            renew,
        })
    }

    /// Adds what the counter answered to a lease request.
    pub fn add(&mut self, leased: Leased) {
        self.seen = true;
        self.leased = self.leased.saturating_add(leased.granted);
        if leased.granted > 0 {
            self.last = leased.granted;
        }
        self.counter_left = leased.left;
    }

    /// Ends a background renewal, whatever came of it (`None`: it failed).
    pub fn renewed(&mut self, leased: Option<Leased>, now_ms: u64) {
        self.renewing = false;
        match leased {
            Some(l) => self.add(l),
            None => self.renew_after_ms = now_ms + RENEW_BACKOFF_MS,
        }
    }

    /// What the client has left: this isolate's unspent lease and what the counter still holds.
    pub fn remaining(&self) -> u32 {
        self.unspent().saturating_add(self.counter_left)
    }
}

/// What a credential's shared counter holds: the units leased out across isolates, present once
/// the credential was ever leased (even nothing), and whether the payment behind it was claimed
/// by a redemption instead. The two meet here so that one payment buys one grant: whichever
/// comes first wins, the other is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counter {
    pub leased: Option<u32>,
    /// The challenge whose redemption claimed the payment, if one did.
    pub claimed_by: Option<String>,
}

/// The counter's answer to a lease request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leased {
    /// Units handed to the asking isolate (zero when not even `at_least` were left).
    pub granted: u32,
    /// Units the counter has left after this lease.
    pub left: u32,
    /// The payment was redeemed for a token: this credential buys nothing, and nothing was leased.
    #[serde(default)]
    pub redeemed: bool,
}

impl Counter {
    /// Leases units of a grant of `grant` to an isolate that needs `at_least` of them now
    /// ([`lease_size`]). Marks the credential used even when nothing is leased.
    pub fn lease(&mut self, at_least: u32, grant: u32) -> Leased {
        let leased = self.leased.unwrap_or(0);
        let left = grant.saturating_sub(leased);
        if self.claimed_by.is_some() {
            return Leased {
                granted: 0,
                left,
                redeemed: true,
            };
        }
        let granted = lease_size(left, at_least);
        self.leased = Some(leased + granted);
        Leased {
            granted,
            left: left - granted,
            redeemed: false,
        }
    }

    /// Claims the payment for the redemption of challenge `by`: only if the credential was never
    /// leased, and the payment was not claimed by another challenge. Claiming again for the same
    /// challenge succeeds, so that a redemption retried after a failure is not refused its own
    /// payment.
    pub fn claim(&mut self, by: &str) -> bool {
        if self.leased.is_some() {
            return false;
        }
        match &self.claimed_by {
            Some(id) => id == by,
            None => {
                self.claimed_by = Some(by.to_string());
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One isolate's view, with the counter answering at once.
    fn first_use(counter: &mut Counter, grant: u32, cost: u32) -> Lease {
        let mut lease = Lease::default();
        assert!(lease.needs_counter(cost));
        lease.add(counter.lease(cost, grant));
        lease
    }

    #[test]
    fn a_lease_is_half_of_what_is_left_and_all_of_a_small_rest() {
        assert_eq!(lease_size(60, 1), 30);
        assert_eq!(lease_size(1_000_000, 1), 500_000);
        assert_eq!(lease_size(16, 1), 16);
        assert_eq!(lease_size(17, 1), 9);
        assert_eq!(lease_size(60, 45), 45, "never less than the request needs");
        assert_eq!(lease_size(5, 6), 0, "nothing when the request does not fit");
        assert_eq!(lease_size(0, 1), 0);
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
        let mut l = first_use(&mut c, 1_000, 1);
        assert_eq!((l.leased, l.counter_left), (500, 500));
        let mut renewals = 0;
        for _ in 0..251 {
            renewals += u32::from(l.take(1, 0).unwrap().renew);
        }
        assert_eq!(
            renewals, 1,
            "asked for at 250 left, not again while it runs"
        );
        l.renewed(Some(c.lease(1, 1_000)), 0);
        assert_eq!((l.leased, l.counter_left), (750, 250));
        assert_eq!(l.remaining(), 499 + 250);
    }

    #[test]
    fn a_failed_renewal_is_retried_after_a_pause_not_on_every_request() {
        let mut c = Counter::default();
        let mut l = first_use(&mut c, 100, 1);
        let renewals =
            |l: &mut Lease, at: u64| (0..5).filter(|_| l.take(1, at).unwrap().renew).count();
        while !l.take(1, 0).unwrap().renew {}
        l.renewed(None, 10);
        assert_eq!(renewals(&mut l, 500), 0, "within the pause");
        assert_eq!(renewals(&mut l, 10 + RENEW_BACKOFF_MS), 1, "once after it");
    }

    #[test]
    fn a_payment_is_leased_or_redeemed_never_both() {
        let mut leased_first = Counter::default();
        assert_eq!(leased_first.lease(1, 10).granted, 10);
        assert!(
            !leased_first.claim("c1"),
            "a leased credential cannot be redeemed"
        );
        let mut nothing_fits = Counter::default();
        assert_eq!(nothing_fits.lease(11, 10).granted, 0);
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
        let refused = claimed_first.lease(1, 10);
        assert!(refused.redeemed);
        assert_eq!(refused.granted, 0, "nothing leased after the claim");
    }

    #[test]
    fn a_second_isolate_starts_from_what_the_first_left() {
        let mut c = Counter::default();
        let mut a = first_use(&mut c, 60, 1);
        while a.take(1, 0).is_some() {}
        let b = first_use(&mut c, 60, 1);
        assert_eq!((b.leased, b.counter_left), (15, 15));
        let mut drained = Counter::default();
        let mut only = first_use(&mut drained, 20, 1);
        while only.take(1, 0).is_some() {
            if only.needs_counter(1) {
                only.add(drained.lease(1, 20));
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
            for s in steps {
                match s {
                    Step::Request(i, cost) => {
                        requests += 1;
                        let l = &mut isolates[i];
                        if l.needs_counter(cost) {
                            calls += 1;
                            l.add(counter.lease(cost.saturating_sub(l.unspent()).max(1), grant));
                        }
                        if let Some(t) = l.take(cost, 0) {
                            admitted += cost;
                            pending[i] |= t.renew;
                        }
                    }
                    Step::Renewal(i) if pending[i] => {
                        calls += 1;
                        pending[i] = false;
                        isolates[i].renewed(Some(counter.lease(1, grant)), 0);
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
                    lease.add(counter.lease(1, grant));
                }
                let Some(t) = lease.take(1, 0) else { break };
                admitted += 1;
                if t.renew {
                    calls += 1;
                    lease.renewed(Some(counter.lease(1, grant)), 0);
                }
            }
            prop_assert_eq!(admitted, u64::from(grant));
            let bound = 2 + (f64::from(grant) / f64::from(MIN_LEASE)).log2().max(0.0).ceil() as u32;
            prop_assert!(calls <= bound, "{calls} calls for a grant of {grant}, bound {bound}");
        }
    }
}
