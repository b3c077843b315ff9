//! Choosing the proof-of-work difficulty: an adaptive base that follows observed solve times and
//! load, escalation for repeat offenders, and what a challenge is expected to cost.
//!
//! Costs are stated against a reference solver, one core hashing at `REFERENCE_HASH_RATE`
//! (Node's `crypto.createHash`, about ten times slower than native SHA-256; docs/PROTOCOL.md §1), so an
//! agent can scale the estimate by its own speed. Solve times are geometric: the 95th percentile
//! is about three times the mean, which is what a time budget is checked against.

mod budget;

pub use budget::parse_budget;

use crate::rails::challenge::OfferKind;

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
    /// Challenges issued per minute over the interval.
    pub challenges_per_min: f64,
    /// Puzzles solved per minute within half the target solve time ([`is_fast`]).
    pub fast_solves_per_min: f64,
}

/// Load at which the controller acts: this many challenges a minute, and as many puzzles a
/// minute solved fast, say the work is cheap for the clients being asked for it.
pub const BUSY_PER_MIN: f64 = 10.0;

/// Whether a redemption counts as a fast solve: within half the target solve time. Only fast
/// solves move the controller; a slow one, which any client can fake by waiting, counts for
/// nothing.
pub fn is_fast(solve_ms: u64, target_ms: u32) -> bool {
    solve_ms.saturating_mul(2) <= u64::from(target_ms)
}

/// The controller, one bit per interval within `[base, max]`.
///
/// Its threat model (docs/threat-model.md, "The difficulty controller"): solve times are the clients' to choose,
/// since a client can always wait before redeeming, and the population may be hostile. So:
/// - **nothing lowers the puzzle below `base`**, and solve times never lower it at all: only
///   quiet does (fewer than [`BUSY_PER_MIN`] challenges a minute), one bit per interval back
///   toward `base`;
/// - **it rises only on paid work**: one bit in an interval in which at least [`BUSY_PER_MIN`]
///   challenges a minute were issued and as many puzzles a minute were solved fast, at the
///   difficulty then served, never past `max`;
/// - so any number of identities, cooperating or not, can move it by at most one bit per
///   interval, only upward, only up to `max`, and only while they keep solving; slow or absent
///   redemptions never make it easier for anyone.
pub fn adjust(current: u8, base: u8, max: u8, o: Observed) -> u8 {
    let busy = o.challenges_per_min >= BUSY_PER_MIN;
    let cheap = o.fast_solves_per_min >= BUSY_PER_MIN;
    let next = if busy && cheap {
        current.saturating_add(1)
    } else if !busy && current > base {
        current - 1
    } else {
        current
    };
    next.clamp(base, max.max(base))
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
    fn the_controller_steps_one_bit_within_base_and_max() {
        let busy_fast = Observed {
            challenges_per_min: 30.0,
            fast_solves_per_min: 20.0,
        };
        let busy_slow = Observed {
            challenges_per_min: 30.0,
            fast_solves_per_min: 0.0,
        };
        let quiet = Observed {
            challenges_per_min: 0.0,
            fast_solves_per_min: 0.0,
        };
        assert_eq!(adjust(14, 14, 16, busy_fast), 15);
        assert_eq!(adjust(16, 14, 16, busy_fast), 16, "never above max");
        assert_eq!(
            adjust(14, 14, 16, busy_slow),
            14,
            "slow solving never lowers it"
        );
        assert_eq!(adjust(15, 14, 16, busy_slow), 15);
        assert_eq!(
            adjust(16, 14, 16, quiet),
            15,
            "drifts back to base when quiet"
        );
        assert_eq!(adjust(14, 14, 16, quiet), 14, "never below base");
        assert_eq!(
            adjust(12, 14, 16, quiet),
            14,
            "a remembered value below base is lifted"
        );
        assert!(is_fast(4_000, 8_000) && !is_fast(4_001, 8_000));
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
    use crate::rails::challenge::OfferKind::{Pow, L402};

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
