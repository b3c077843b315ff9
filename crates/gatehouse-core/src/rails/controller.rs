//! The adaptive difficulty controller's state machine (docs/threat-model.md, "The difficulty controller"): the
//! metrics object folds every isolate's delta into one interval's observations, and at the end
//! of each interval moves the difficulty one step (`difficulty::adjust`, which states the
//! threat model). Pure: the object reads the state, calls [`Controller::step`] with `now`, and
//! writes it back.

use serde::{Deserialize, Serialize};

use crate::metrics::Delta;
use crate::rails::difficulty::{adjust, Observed};

/// The counter of fast proof-of-work solves (`difficulty::is_fast`) in a metrics delta.
pub const FAST_SOLVES: &str = "challenges_solved_fast";

/// The operator's bounds and target, sent with each delta while the controller is on.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct ControllerCall {
    pub min: u8,
    pub base: u8,
    pub max: u8,
    pub target_ms: u32,
    pub interval_ms: u64,
}

/// One interval's observations and the difficulty last chosen. Fields a release before this one
/// stored (its solve-time totals) are ignored when read back.
#[derive(Debug, Serialize, Deserialize, Default, Clone, PartialEq, Eq)]
#[serde(default)]
pub struct Controller {
    bits: Option<u8>,
    started_ms: u64,
    fast: u64,
    issued: u64,
}

impl Controller {
    /// Folds a delta in; at the end of an interval, moves the difficulty one step. Returns the
    /// difficulty to use now, always within `[base, max]`.
    pub fn step(&mut self, c: &ControllerCall, d: &Delta, now_ms: u64) -> u8 {
        let top = c.max.max(c.base);
        let mut bits = self.bits.unwrap_or(c.base).clamp(c.base, top);
        if self.started_ms == 0 {
            self.started_ms = now_ms;
        }
        self.fast += d.total(FAST_SOLVES, "pow");
        self.issued += d.total("challenges_issued", "pow");
        let elapsed = now_ms.saturating_sub(self.started_ms);
        if elapsed >= c.interval_ms {
            let per_min = |n: u64| n as f64 * 60_000.0 / elapsed.max(1) as f64;
            let observed = Observed {
                challenges_per_min: per_min(self.issued),
                fast_solves_per_min: per_min(self.fast),
            };
            bits = adjust(bits, c.base, c.max, observed);
            *self = Controller {
                bits: Some(bits),
                started_ms: now_ms,
                ..Controller::default()
            };
        }
        self.bits = Some(bits);
        bits
    }

    /// The difficulty last chosen, if any, before bounds.
    pub fn last_bits(&self) -> Option<u8> {
        self.bits
    }

    /// The difficulty last chosen, within the bounds given.
    pub fn bits(&self, c: &ControllerCall) -> u8 {
        self.bits.unwrap_or(c.base).clamp(c.base, c.max.max(c.base))
    }
}

#[cfg(test)]
mod tests;
