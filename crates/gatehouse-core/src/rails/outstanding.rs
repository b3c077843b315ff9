//! An exhausted client's outstanding challenges: what it is offered again instead of new ones.
//!
//! Every challenge is a D1 row, and every L402 offer an invoice at the Lightning backend. A client
//! that keeps calling while exhausted must not make the gateway write a row and create an invoice
//! per request, so each client's counter remembers the challenges it was last offered, and an
//! offer is made again while it has at least [`MIN_LEFT_MS`] to live (enough to solve or pay).
//! That bounds challenge rows and invoices to about one per kind per client per
//! `TTL - MIN_LEFT_MS`, whatever the request rate. A redeemed challenge is forgotten at once.

use serde::{Deserialize, Serialize};

use crate::rails::challenge::{L402Offer, Offer, OfferKind, PowChallenge};
use crate::rails::difficulty::PowPlan;

/// An offer is made again only while it has this long left (or half its lifetime, if that is
/// shorter): a client needs time to use it.
pub const MIN_LEFT_MS: u64 = 15_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outstanding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow: Option<PowChallenge>,
    /// The easier puzzle that buys a reduced grant, kept apart so that a client switching its time
    /// budget on and off is offered each again rather than a new one each time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduced_pow: Option<PowChallenge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l402: Option<L402Offer>,
}

/// One offer of a 402: made again, or to be made anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Reuse(Offer),
    Mint(OfferKind),
}

impl Outstanding {
    /// For each kind to offer, in order: the outstanding offer if it is still good for this plan,
    /// or the kind to mint. A proof of work is reused only if it is at least as hard as the plan
    /// and buys the same grant, so escalation and the operator's floor still apply.
    /// `ttl_ms` is the lifetime of a new challenge.
    pub fn slots(&self, kinds: &[OfferKind], plan: PowPlan, ttl_ms: u64, now_ms: u64) -> Vec<Slot> {
        let min_left = MIN_LEFT_MS.min(ttl_ms / 2);
        let live = |expires_at_ms: u64| expires_at_ms >= now_ms + min_left;
        let pow = if plan.reduced {
            &self.reduced_pow
        } else {
            &self.pow
        };
        kinds
            .iter()
            .map(|kind| match kind {
                OfferKind::Pow => match pow {
                    Some(p)
                        if live(p.expires_at_ms)
                            && p.difficulty >= plan.bits
                            && p.reduced == plan.reduced =>
                    {
                        Slot::Reuse(Offer::Pow(p.clone()))
                    }
                    _ => Slot::Mint(*kind),
                },
                OfferKind::L402 => match &self.l402 {
                    Some(o) if live(o.expires_at_ms) => Slot::Reuse(Offer::L402(o.clone())),
                    _ => Slot::Mint(*kind),
                },
                // Costs no row and no invoice, and its amount is the request's own.
                OfferKind::X402 | OfferKind::Mpp => Slot::Mint(*kind),
            })
            .collect()
    }

    /// Remembers newly minted offers, replacing older ones of their kind.
    pub fn remember(&mut self, minted: &[Offer]) {
        for offer in minted {
            match offer {
                Offer::Pow(p) if p.reduced => self.reduced_pow = Some(p.clone()),
                Offer::Pow(p) => self.pow = Some(p.clone()),
                Offer::L402(o) => self.l402 = Some(o.clone()),
                Offer::X402(_) | Offer::Mpp(_) => {}
            }
        }
    }

    /// Forgets the challenge with this id, once it is redeemed.
    pub fn forget(&mut self, id: &str) {
        for pow in [&mut self.pow, &mut self.reduced_pow] {
            if pow.as_ref().is_some_and(|p| p.id == id) {
                *pow = None;
            }
        }
        if self.l402.as_ref().is_some_and(|o| o.challenge_id == id) {
            self.l402 = None;
        }
    }

    /// Drops what has expired, so the stored state stays small.
    pub fn prune(&mut self, now_ms: u64) {
        for pow in [&mut self.pow, &mut self.reduced_pow] {
            if pow.as_ref().is_some_and(|p| p.expires_at_ms <= now_ms) {
                *pow = None;
            }
        }
        if self
            .l402
            .as_ref()
            .is_some_and(|o| o.expires_at_ms <= now_ms)
        {
            self.l402 = None;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pow.is_none() && self.reduced_pow.is_none() && self.l402.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pow(bits: u8, now_ms: u64) -> PowChallenge {
        PowChallenge::new(&[3u8; 32], bits, now_ms, 60)
    }

    fn l402(expires_at_ms: u64) -> L402Offer {
        L402Offer {
            challenge_id: "c".repeat(32),
            macaroon: "m".into(),
            invoice: "lnbc1".into(),
            payment_hash: "h".into(),
            amount_sats: 3,
            expires_at_ms,
        }
    }

    const TTL: u64 = 60_000;

    const PLAN: PowPlan = PowPlan {
        bits: 14,
        reduced: false,
    };

    #[test]
    fn nothing_outstanding_means_everything_is_minted() {
        let slots = Outstanding::default().slots(&[OfferKind::L402, OfferKind::Pow], PLAN, TTL, 0);
        assert_eq!(
            slots,
            [Slot::Mint(OfferKind::L402), Slot::Mint(OfferKind::Pow)]
        );
    }

    #[test]
    fn a_live_offer_is_made_again_in_the_configured_order() {
        let mut o = Outstanding::default();
        o.remember(&[Offer::Pow(pow(14, 0)), Offer::L402(l402(600_000))]);
        let slots = o.slots(&[OfferKind::L402, OfferKind::Pow], PLAN, TTL, 30_000);
        assert_eq!(
            slots,
            [
                Slot::Reuse(Offer::L402(l402(600_000))),
                Slot::Reuse(Offer::Pow(pow(14, 0)))
            ]
        );
    }

    #[test]
    fn an_offer_about_to_expire_is_replaced() {
        let mut o = Outstanding::default();
        o.remember(&[Offer::Pow(pow(14, 0))]);
        // It expires at 60 s; at 46 s it has less than MIN_LEFT_MS left.
        assert_eq!(
            o.slots(&[OfferKind::Pow], PLAN, TTL, 46_000),
            [Slot::Mint(OfferKind::Pow)]
        );
    }

    #[test]
    fn an_easier_or_differently_granted_puzzle_is_not_reused() {
        let mut o = Outstanding::default();
        o.remember(&[Offer::Pow(pow(12, 0))]);
        assert_eq!(
            o.slots(&[OfferKind::Pow], PLAN, TTL, 1_000),
            [Slot::Mint(OfferKind::Pow)]
        );
        let reduced = PowPlan {
            bits: 12,
            reduced: true,
        };
        assert_eq!(
            o.slots(&[OfferKind::Pow], reduced, TTL, 1_000),
            [Slot::Mint(OfferKind::Pow)]
        );
        let harder_is_fine = PowPlan {
            bits: 10,
            reduced: false,
        };
        assert!(matches!(
            o.slots(&[OfferKind::Pow], harder_is_fine, TTL, 1_000)[0],
            Slot::Reuse(_)
        ));
    }

    #[test]
    fn a_redeemed_challenge_is_forgotten_and_expired_ones_pruned() {
        let mut o = Outstanding::default();
        let p = pow(14, 0);
        o.remember(&[Offer::Pow(p.clone()), Offer::L402(l402(10_000))]);
        o.forget(&p.id);
        assert!(o.pow.is_none() && o.l402.is_some());
        o.prune(10_000);
        assert!(o.is_empty());
    }

    #[test]
    fn a_client_switching_its_budget_gets_each_puzzle_again() {
        let mut o = Outstanding::default();
        let mut reduced = pow(12, 0);
        reduced.reduced = true;
        o.remember(&[Offer::Pow(pow(14, 0)), Offer::Pow(reduced.clone())]);
        let easy = PowPlan {
            bits: 12,
            reduced: true,
        };
        assert_eq!(
            o.slots(&[OfferKind::Pow], easy, TTL, 1_000),
            [Slot::Reuse(Offer::Pow(reduced))]
        );
        assert_eq!(
            o.slots(&[OfferKind::Pow], PLAN, TTL, 1_000),
            [Slot::Reuse(Offer::Pow(pow(14, 0)))]
        );
    }

    #[test]
    fn a_short_lived_challenge_is_reused_for_half_its_life() {
        let mut o = Outstanding::default();
        let short = PowChallenge::new(&[3u8; 32], 14, 0, 10);
        o.remember(&[Offer::Pow(short.clone())]);
        assert_eq!(
            o.slots(&[OfferKind::Pow], PLAN, 10_000, 4_000),
            [Slot::Reuse(Offer::Pow(short))]
        );
        assert_eq!(
            o.slots(&[OfferKind::Pow], PLAN, 10_000, 6_000),
            [Slot::Mint(OfferKind::Pow)]
        );
    }
}
