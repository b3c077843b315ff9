//! The adaptive difficulty controller's state machine (README "What a challenge costs"): the
//! metrics object folds every isolate's delta into one interval's observations, and at the end
//! of each interval moves the difficulty one step (`difficulty::adjust`). Pure: the object reads
//! the state, calls [`Controller::step`] with `now`, and writes it back.

use serde::{Deserialize, Serialize};

use crate::difficulty::{adjust, Observed};
use crate::metrics::Delta;

/// The operator's bounds and target, sent with each delta while the controller is on.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct ControllerCall {
    pub min: u8,
    pub base: u8,
    pub max: u8,
    pub target_ms: u32,
    pub interval_ms: u64,
}

/// One interval's observations and the difficulty last chosen.
#[derive(Debug, Serialize, Deserialize, Default, Clone, PartialEq, Eq)]
pub struct Controller {
    bits: Option<u8>,
    started_ms: u64,
    solved: u64,
    solve_ms_total: u64,
    issued: u64,
}

impl Controller {
    /// Folds a delta in; at the end of an interval, moves the difficulty one step. Returns the
    /// difficulty to use now, always within the bounds.
    pub fn step(&mut self, c: &ControllerCall, d: &Delta, now_ms: u64) -> u8 {
        let mut bits = self.bits.unwrap_or(c.base).clamp(c.min, c.max);
        if self.started_ms == 0 {
            self.started_ms = now_ms;
        }
        self.solved += d.total("challenges_solved", "pow");
        self.solve_ms_total += d.total("solve_ms_total", "pow");
        self.issued += d.total("challenges_issued", "pow");
        let elapsed = now_ms.saturating_sub(self.started_ms);
        if elapsed >= c.interval_ms {
            let observed = Observed {
                mean_solve_ms: (self.solved > 0)
                    .then(|| self.solve_ms_total as f64 / self.solved as f64),
                challenges_per_min: self.issued as f64 * 60_000.0 / elapsed.max(1) as f64,
            };
            bits = adjust(bits, c.base, c.min, c.max, f64::from(c.target_ms), observed);
            *self = Controller {
                bits: Some(bits),
                started_ms: now_ms,
                ..Controller::default()
            };
        }
        self.bits = Some(bits);
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: ControllerCall = ControllerCall {
        min: 12,
        base: 14,
        max: 18,
        target_ms: 8_000,
        interval_ms: 30_000,
    };

    fn delta(issued: u64, solved: u64, solve_ms_total: u64) -> Delta {
        let mut d = Delta::default();
        d.count("challenges_issued", "main", "pow", issued);
        d.count("challenges_solved", "-", "pow", solved);
        d.count("solve_ms_total", "-", "pow", solve_ms_total);
        d
    }

    #[test]
    fn within_an_interval_the_difficulty_holds() {
        let mut c = Controller::default();
        assert_eq!(c.step(&CALL, &delta(100, 50, 50), 1_000), 14);
        assert_eq!(c.step(&CALL, &delta(100, 50, 50), 20_000), 14);
    }

    #[test]
    fn fast_solving_under_load_raises_it_one_bit_per_interval() {
        let mut c = Controller::default();
        c.step(&CALL, &delta(0, 0, 0), 1_000);
        // 60 challenges in 30 s, solved in 100 ms on average: cheap work, heavy load.
        assert_eq!(c.step(&CALL, &delta(60, 60, 6_000), 31_000), 15);
        assert_eq!(c.step(&CALL, &delta(60, 60, 6_000), 61_000), 16);
    }

    #[test]
    fn slow_solving_lowers_it_and_the_bounds_hold() {
        let mut c = Controller::default();
        c.step(&CALL, &delta(0, 0, 0), 1_000);
        let mut bits = 14;
        for i in 1..10 {
            bits = c.step(&CALL, &delta(5, 5, 5 * 20_000), 1_000 + i * 30_000);
        }
        assert_eq!(bits, 12, "never below the minimum");
    }

    #[test]
    fn a_changed_bound_clamps_the_remembered_difficulty() {
        let mut c = Controller::default();
        c.step(&CALL, &delta(0, 0, 0), 1_000);
        c.step(&CALL, &delta(60, 60, 6_000), 31_000);
        let tighter = ControllerCall { max: 14, ..CALL };
        assert_eq!(c.step(&tighter, &delta(0, 0, 0), 32_000), 14);
    }
}
