//! Choosing the proof-of-work difficulty: an adaptive base that follows observed solve times and
//! load, escalation for repeat offenders, and what a challenge is expected to cost.
//!
//! Costs are stated against a reference solver, one core hashing at `REFERENCE_HASH_RATE`
//! (Node's `crypto.createHash`, about ten times slower than native SHA-256; docs/PROTOCOL.md §1), so an
//! agent can scale the estimate by its own speed. Solve times are geometric: the 95th percentile
//! is about three times the mean, which is what a time budget is checked against.

mod budget;

pub use budget::parse_budget;

use crate::challenge::OfferKind;

/// The operator's bounds on the proof-of-work difficulty (`POW_MIN_BITS`, `POW_BASE_BITS`,
/// `POW_MAX_BITS`), or the runtime policy's over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowSettings {
    pub min_bits: u8,
    pub base_bits: u8,
    pub max_bits: u8,
}

/// The adaptive difficulty controller ([`adjust`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveSettings {
    pub enabled: bool,
    pub target_solve_ms: u32,
    pub interval_s: u32,
}

/// Hashes per second of the reference solver.
pub const REFERENCE_HASH_RATE: u64 = 1_500_000;
/// p95 of a geometric solve time is ln(20) ≈ 3.0 times its mean.
pub const P95_FACTOR: f64 = 3.0;

pub fn estimated_cpu_seconds(bits: u8) -> f64 {
    (1u64 << bits.min(63)) as f64 / REFERENCE_HASH_RATE as f64
}

/// Whether a challenge of `bits` fits `budget_s` at the 95th percentile for the reference solver.
pub fn fits(bits: u8, budget_s: f64) -> bool {
    estimated_cpu_seconds(bits) * P95_FACTOR <= budget_s
}

/// The largest difficulty that fits the budget, if even one bit does.
pub fn largest_fitting(budget_s: f64) -> Option<u8> {
    (1..=32u8).rev().find(|b| fits(*b, budget_s))
}

/// The controller's inputs over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// Mean solve time of the interval's redemptions, if any.
    pub mean_solve_ms: Option<f64>,
    /// Challenges issued per minute over the interval.
    pub challenges_per_min: f64,
}

/// The controller: one bit at a time, within `[min, max]`. Slower than target (agents would
/// time out): easier. Much faster than target while many challenges are being issued (cheap
/// work, heavy load): harder. Quiet, fast solving with little load: drift back toward `base`.
pub fn adjust(current: u8, base: u8, min: u8, max: u8, target_ms: f64, o: Observed) -> u8 {
    let busy = o.challenges_per_min >= 10.0;
    let next = match o.mean_solve_ms {
        Some(mean) if mean > target_ms * 1.5 => current.saturating_sub(1),
        Some(mean) if mean < target_ms * 0.5 && busy => current.saturating_add(1),
        _ if !busy && current > base => current - 1,
        _ if !busy && current < base => current + 1,
        _ => current,
    };
    next.clamp(min, max)
}

/// Repeat offenders pay more: one extra bit per doubling of recent denials past four, capped.
pub fn escalate(bits: u8, recent_denials: u32, max: u8) -> u8 {
    let extra = if recent_denials <= 4 {
        0
    } else {
        (recent_denials / 4).ilog2() as u8 + 1
    };
    bits.saturating_add(extra).min(max.max(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_follow_the_reference_rate() {
        assert!((estimated_cpu_seconds(14) - 16_384.0 / 1_500_000.0).abs() < 1e-12);
        assert!(fits(14, 0.05));
        assert!(
            !fits(20, 1.0),
            "2^20 hashes at the reference rate take 0.7 s mean, 2.1 s p95"
        );
        assert_eq!(largest_fitting(0.1), Some(15));
        assert_eq!(largest_fitting(0.0), None);
    }

    #[test]
    fn the_controller_steps_one_bit_within_bounds() {
        let busy_fast = Observed {
            mean_solve_ms: Some(5.0),
            challenges_per_min: 30.0,
        };
        let slow = Observed {
            mean_solve_ms: Some(20_000.0),
            challenges_per_min: 30.0,
        };
        let quiet = Observed {
            mean_solve_ms: None,
            challenges_per_min: 0.0,
        };
        assert_eq!(adjust(14, 14, 12, 16, 8_000.0, busy_fast), 15);
        assert_eq!(
            adjust(16, 14, 12, 16, 8_000.0, busy_fast),
            16,
            "never above max"
        );
        assert_eq!(adjust(14, 14, 12, 16, 8_000.0, slow), 13);
        assert_eq!(adjust(12, 14, 12, 16, 8_000.0, slow), 12, "never below min");
        assert_eq!(
            adjust(16, 14, 12, 16, 8_000.0, quiet),
            15,
            "drifts back to base when quiet"
        );
        assert_eq!(adjust(14, 14, 12, 16, 8_000.0, quiet), 14);
    }

    #[test]
    fn repeat_offenders_escalate_with_a_cap() {
        assert_eq!(escalate(14, 0, 20), 14);
        assert_eq!(escalate(14, 4, 20), 14);
        assert_eq!(escalate(14, 8, 20), 16);
        assert_eq!(escalate(14, 16, 20), 17);
        assert_eq!(escalate(14, 1_000, 20), 20);
        assert_eq!(escalate(14, 1_000, 16), 16);
    }
}

/// The proof of work to offer: its difficulty, and whether it buys the reduced grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowPlan {
    pub bits: u8,
    pub reduced: bool,
}

/// Fits the offers to a client's declared time budget (seconds): a proof of work is offered only
/// if it is expected to fit; L402 always fits (paying is instant). If nothing fits and the
/// operator allows it, an easier proof of work that fits buys a reduced grant instead, but never
/// one below `min_bits`: a budget is the client's say, and `POW_MIN_BITS` is the operator's floor
/// on what any admission costs. If even that is impossible, the offers stay as they were: the
/// client may still choose to try.
pub fn plan(
    kinds: &[OfferKind],
    bits: u8,
    min_bits: u8,
    budget_s: Option<f64>,
    fallback: bool,
) -> (Vec<OfferKind>, PowPlan) {
    let normal = PowPlan {
        bits: bits.max(min_bits),
        reduced: false,
    };
    let Some(budget) = budget_s else {
        return (kinds.to_vec(), normal);
    };
    let keep: Vec<OfferKind> = kinds
        .iter()
        .copied()
        .filter(|k| *k != OfferKind::Pow || fits(normal.bits, budget))
        .collect();
    if !keep.is_empty() {
        return (keep, normal);
    }
    match largest_fitting(budget).filter(|b| *b >= min_bits) {
        Some(easier) if fallback && kinds.contains(&OfferKind::Pow) => (
            vec![OfferKind::Pow],
            PowPlan {
                bits: easier.min(normal.bits),
                reduced: true,
            },
        ),
        _ => (kinds.to_vec(), normal),
    }
}

/// Everything the difficulty of one challenge depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct DifficultyInputs<'a> {
    /// The operator's bounds (configuration, or the runtime policy over it).
    pub pow: PowSettings,
    /// The adaptive controller's current difficulty, when it runs and has one.
    pub adaptive: Option<u8>,
    /// The client's denials in the last ten minutes.
    pub recent_denials: u32,
    pub kinds: &'a [OfferKind],
    /// `Gatehouse-Time-Budget`, in seconds, when the client sent a usable one.
    pub budget_s: Option<f64>,
    /// Whether the operator configured a reduced-grant fallback.
    pub fallback: bool,
}

/// The whole difficulty pipeline: the controller's base clamped to the operator's bounds, raised
/// for a repeat offender, then fitted to the client's time budget.
pub fn choose(i: &DifficultyInputs) -> (Vec<OfferKind>, PowPlan) {
    let base = i
        .adaptive
        .map_or(i.pow.base_bits, |b| b.clamp(i.pow.min_bits, i.pow.max_bits));
    let bits = escalate(base, i.recent_denials, i.pow.max_bits);
    plan(i.kinds, bits, i.pow.min_bits, i.budget_s, i.fallback)
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::challenge::OfferKind::{Pow, L402};

    #[test]
    fn without_a_budget_nothing_changes() {
        assert_eq!(
            plan(&[L402, Pow], 16, 12, None, true),
            (
                vec![L402, Pow],
                PowPlan {
                    bits: 16,
                    reduced: false
                }
            )
        );
    }

    #[test]
    fn a_tight_budget_drops_the_work_and_keeps_the_payment() {
        assert_eq!(
            plan(&[L402, Pow], 20, 12, Some(0.5), true),
            (
                vec![L402],
                PowPlan {
                    bits: 20,
                    reduced: false
                }
            )
        );
        assert_eq!(
            plan(&[Pow], 14, 12, Some(1.0), true),
            (
                vec![Pow],
                PowPlan {
                    bits: 14,
                    reduced: false
                }
            )
        );
    }

    #[test]
    fn with_work_alone_the_fallback_is_an_easier_puzzle_for_a_reduced_grant() {
        assert_eq!(
            plan(&[Pow], 20, 12, Some(0.1), true),
            (
                vec![Pow],
                PowPlan {
                    bits: 15,
                    reduced: true
                }
            )
        );
        assert_eq!(
            plan(&[Pow], 20, 12, Some(0.1), false),
            (
                vec![Pow],
                PowPlan {
                    bits: 20,
                    reduced: false
                }
            )
        );
        assert_eq!(
            plan(&[Pow], 20, 12, Some(0.0), true),
            (
                vec![Pow],
                PowPlan {
                    bits: 20,
                    reduced: false
                }
            )
        );
    }

    #[test]
    fn no_budget_buys_a_proof_of_work_below_the_floor() {
        // 0.001 s fits about 9 bits; the floor is 12: no reduced fallback below it.
        let (kinds, p) = plan(&[Pow], 16, 12, Some(0.001), true);
        assert_eq!((kinds, p.reduced, p.bits), (vec![Pow], false, 16));
        for budget in [0.0, 1e-9, 0.001, 0.01, 0.1, 1.0, 10.0] {
            for fallback in [true, false] {
                let (_, p) = plan(&[Pow, L402], 10, 12, Some(budget), fallback);
                assert!(p.bits >= 12, "budget {budget}: {} bits", p.bits);
            }
        }
    }

    #[test]
    fn the_pipeline_clamps_escalates_and_fits() {
        let pow = crate::config::PowSettings {
            min_bits: 12,
            base_bits: 14,
            max_bits: 18,
        };
        let inputs = |adaptive, recent_denials, budget_s| DifficultyInputs {
            pow,
            adaptive,
            recent_denials,
            kinds: &[Pow],
            budget_s,
            fallback: true,
        };
        assert_eq!(choose(&inputs(None, 0, None)).1.bits, 14);
        assert_eq!(choose(&inputs(Some(3), 0, None)).1.bits, 12, "clamped up");
        assert_eq!(
            choose(&inputs(Some(30), 0, None)).1.bits,
            18,
            "clamped down"
        );
        assert_eq!(choose(&inputs(None, 8, None)).1.bits, 16, "escalated");
        assert_eq!(
            choose(&inputs(None, 1_000, None)).1.bits,
            18,
            "escalation capped"
        );
        let (_, tight) = choose(&inputs(None, 0, Some(0.000_1)));
        assert!(tight.bits >= 12 && !tight.reduced);
    }
}
