//! How a credential's grant is spent: the rule behind every admission by access token or L402
//! credential (docs/PROTOCOL.md §1).
//!
//! A grant counts calls, not HTTP requests: a request is charged what its calls cost
//! (`policy::charge::cost`), and is refused whole when the grant has less left, so a batch cannot
//! carry a thousand calls on one use. Each isolate keeps a [`Usage`] per credential and spends
//! from it with no I/O; uses are reported to the credential's counter in batches (on first use,
//! then every [`REPORT_EVERY`] units, once a second, and when the grant is reached), and the total
//! the counter answers raises the local count, which is how an isolate learns of the others.
//! Across isolates a grant can therefore be overshot by what each other isolate has admitted and
//! not yet reported: fewer than `REPORT_EVERY` units plus its requests in flight.

use serde::{Deserialize, Serialize};

/// Batching keeps the counter call off most requests: one call per this many units.
pub const REPORT_EVERY: u32 = 8;
pub const REPORT_INTERVAL_MS: u64 = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub used: u32,
    pub reported: u32,
    pub reported_at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// The count after this use.
    pub used: u32,
    /// Units to report to the credential's counter now, if a report is due.
    pub report: Option<u32>,
}

impl Usage {
    /// Whether `cost` more units fit a grant of `grant`.
    pub fn fits(&self, cost: u32, grant: u32) -> bool {
        self.used.checked_add(cost).is_some_and(|n| n <= grant)
    }

    /// Takes `cost` units of a grant of `grant` if they all fit; `None` leaves the usage as it was.
    pub fn take(&mut self, cost: u32, grant: u32, now_ms: u64) -> Option<Taken> {
        if !self.fits(cost, grant) {
            return None;
        }
        let after = self.used + cost;
        let first = self.used == 0 && self.reported == 0;
        self.used = after;
        let pending = self.used.saturating_sub(self.reported);
        let due = first
            || pending >= REPORT_EVERY
            || self.used == grant
            || now_ms.saturating_sub(self.reported_at_ms) >= REPORT_INTERVAL_MS;
        let report = (due && pending > 0).then(|| {
            self.reported = self.used;
            self.reported_at_ms = now_ms;
            pending
        });
        Some(Taken {
            used: self.used,
            report,
        })
    }

    /// A usage that starts from the counter's total, all of it reported already.
    pub fn seeded(total: u32, now_ms: u64) -> Self {
        Self {
            used: total,
            reported: total,
            reported_at_ms: now_ms,
        }
    }

    /// Raises the local count to the shared total the counter reported.
    pub fn observe_total(&mut self, total: u32) {
        if total > self.used {
            // Uses by other isolates: counted as reported, they are in the total already.
            self.reported += total - self.used;
            self.used = total;
        }
    }
}

/// What a credential's shared counter (one Durable Object per credential) holds: the units spent
/// across isolates, present once the credential was ever spent (even for nothing), and whether
/// the payment behind it was claimed by a redemption instead. The two meet here so that one
/// payment buys one grant: whichever comes first wins, the other is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counter {
    pub used: Option<u32>,
    /// The challenge whose redemption claimed the payment, if one did.
    pub claimed_by: Option<String>,
}

/// The counter's answer to a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spent {
    pub used: u32,
    /// The payment was redeemed for a token: this credential buys nothing more, and the spend
    /// was not counted.
    #[serde(default)]
    pub redeemed: bool,
    /// For a first use ([`Counter::take`]): whether the units fitted and were counted.
    #[serde(default)]
    pub admitted: bool,
}

impl Counter {
    /// What any spend gets once the payment was redeemed for a token: nothing, counted nowhere.
    fn redeemed(&self) -> Option<Spent> {
        self.claimed_by.as_ref().map(|_| Spent {
            used: self.used.unwrap_or(0),
            redeemed: true,
            admitted: false,
        })
    }

    /// Counts `cost` units spent somewhere already (a batched report from an isolate).
    pub fn spend(&mut self, cost: u32) -> Spent {
        if let Some(refused) = self.redeemed() {
            return refused;
        }
        let used = self.used.unwrap_or(0).saturating_add(cost);
        self.used = Some(used);
        Spent {
            used,
            redeemed: false,
            admitted: true,
        }
    }

    /// A first use in an isolate, which knows nothing of the others yet: counts `cost` units
    /// only if they fit what is left of `grant`, so that an isolate never starts from a full
    /// grant that others have spent. Marks the credential used even when nothing fits.
    pub fn take(&mut self, cost: u32, grant: u32) -> Spent {
        if let Some(refused) = self.redeemed() {
            return refused;
        }
        let used = self.used.unwrap_or(0);
        let fits = used.checked_add(cost).is_some_and(|n| n <= grant);
        let after = if fits { used + cost } else { used };
        self.used = Some(after);
        Spent {
            used: after,
            redeemed: false,
            admitted: fits,
        }
    }

    /// Claims the payment for the redemption of challenge `by`: only if the credential was never
    /// spent, and the payment was not claimed by another challenge. Claiming again for the same
    /// challenge succeeds, so that a redemption retried after a failure is not refused its own
    /// payment.
    pub fn claim(&mut self, by: &str) -> bool {
        if self.used.is_some() {
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

    #[test]
    fn a_request_takes_its_whole_cost_or_nothing() {
        let mut u = Usage::default();
        assert_eq!(u.take(3, 5, 0).map(|t| t.used), Some(3));
        assert_eq!(u.take(3, 5, 0), None, "3 more do not fit in 2 left");
        assert_eq!(u.used, 3, "a refusal spends nothing");
        assert_eq!(u.take(2, 5, 0).map(|t| t.used), Some(5));
        assert_eq!(u.take(1, 5, 0), None);
    }

    #[test]
    fn a_batch_larger_than_the_grant_never_fits() {
        let mut u = Usage::default();
        assert_eq!(u.take(2_000, 60, 0), None);
        assert_eq!(u.take(u32::MAX, u32::MAX - 1, 0), None);
    }

    #[test]
    fn the_first_use_is_reported_then_batches() {
        let mut u = Usage::default();
        assert_eq!(u.take(1, 100, 0).unwrap().report, Some(1));
        for _ in 0..7 {
            assert_eq!(u.take(1, 100, 10).unwrap().report, None);
        }
        assert_eq!(u.take(1, 100, 10).unwrap().report, Some(REPORT_EVERY));
        assert_eq!(
            u.take(1, 100, 2_000).unwrap().report,
            Some(1),
            "a second later"
        );
        assert_eq!(
            u.take(90, 100, 2_001).unwrap().report,
            Some(90),
            "reaching the grant"
        );
    }

    #[test]
    fn a_payment_is_spent_as_a_credential_or_redeemed_never_both() {
        let mut spent_first = Counter::default();
        assert_eq!(spent_first.take(0, 10).used, 0);
        assert!(
            !spent_first.claim("c1"),
            "even a zero-cost first use counts"
        );
        let mut claimed_first = Counter::default();
        assert!(claimed_first.claim("c1"));
        assert!(claimed_first.claim("c1"), "the same redemption, retried");
        assert!(
            !claimed_first.claim("c2"),
            "another challenge cannot claim it"
        );
        let refused = claimed_first.take(3, 10);
        assert!(refused.redeemed && !refused.admitted);
        assert_eq!(refused.used, 0, "nothing counted after the claim");
    }

    #[test]
    fn a_first_use_is_admitted_only_within_what_others_left() {
        let mut c = Counter::default();
        c.spend(8); // reported by another isolate
        let refused = c.take(3, 10);
        assert_eq!((refused.admitted, refused.used), (false, 8));
        let fits = c.take(2, 10);
        assert_eq!((fits.admitted, fits.used), (true, 10));
    }

    #[test]
    fn other_isolates_uses_count_against_the_grant() {
        let mut u = Usage::default();
        u.take(1, 10, 0);
        u.observe_total(9);
        assert_eq!(u.take(2, 10, 1), None);
        assert_eq!(u.take(1, 10, 1).map(|t| t.used), Some(10));
    }

    proptest! {
        /// In one isolate, no sequence of requests ever admits more units than the grant, and
        /// every admitted unit is eventually reported.
        #[test]
        fn one_isolate_never_exceeds_the_grant(grant in 1u32..500, costs in prop::collection::vec(0u32..40, 1..200)) {
            let mut u = Usage::default();
            let mut admitted = 0u32;
            let mut reported = 0u32;
            for (i, c) in costs.iter().enumerate() {
                if let Some(t) = u.take(*c, grant, i as u64 * 10) {
                    admitted += c;
                    reported += t.report.unwrap_or(0);
                }
            }
            prop_assert!(admitted <= grant);
            prop_assert_eq!(admitted, u.used);
            prop_assert!(admitted - reported < REPORT_EVERY.max(1) + 40);
        }
    }
}
