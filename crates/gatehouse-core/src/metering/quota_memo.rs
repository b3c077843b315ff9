//! An isolate's short memory of clients it has just seen denied by their quota, so that an
//! over-quota burst is answered without a call to the client's counter (docs/PROTOCOL.md §5).
//!
//! A denial changes nothing in the counter (`quota::decide`), so answering the same request again
//! from memory, for a moment, is what the counter would have said: the same decision, aged by
//! the time since, with the same outstanding challenges. Only a denial by the route's quota is
//! remembered (a per-tool limit's 429 is not), only for [`MEMO_MS`] and never past the instant the
//! request would fit, and only for a request on the same route that costs the same. A redemption
//! in this isolate forgets the client at once, and for [`MEMO_MS`] remembers nothing more of it
//! (a denial being answered while the redemption lands would otherwise bring the redeemed
//! challenge back), so a redeemed challenge is not offered again from memory.
//!
//! One thing a denial does change is the count of recent denials, by which a repeat offender's
//! proof of work grows harder (`difficulty::choose`). So a denial is remembered only once its
//! challenges cannot get harder: its proof of work, if it offers one, at the maximum. The
//! escalation runs as before; the memory takes the rest of the burst.

use std::collections::HashMap;

use crate::metering::quota::{Decision, Policy};
use crate::policy::charge::LIMIT_PREFIX;
use crate::rails::challenge::Offer;

/// How long a denial is remembered: short, because other isolates may admit the client's
/// payments meanwhile and the counter's windows slide.
pub const MEMO_MS: u64 = 2_000;
/// Clients remembered per isolate; past this, new denials are not remembered.
pub const MEMO_ENTRIES: usize = 4_096;

/// A denial as the answer step saw it.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub route: String,
    pub cost: u32,
    pub at_ms: u64,
    pub until_ms: u64,
    pub decision: Decision,
    pub first_seen_ms: u64,
    pub shown: Policy,
    /// The challenges offered with it (empty when the answer was a 429).
    pub offers: Vec<Offer>,
}

/// What a recalled denial answers now.
#[derive(Debug, Clone)]
pub struct Recalled {
    pub decision: Decision,
    pub first_seen_ms: u64,
    pub shown: Policy,
    pub offers: Vec<Offer>,
}

/// Whether a denial may be remembered: one by the route's quota, with a time to come back.
pub fn rememberable(decision: &Decision) -> bool {
    !decision.allowed
        && decision.retry_after_s.is_some()
        && !decision.denied_by.is_empty()
        && !decision
            .denied_by
            .iter()
            .any(|c| c.starts_with(LIMIT_PREFIX))
}

/// Whether escalation is done for these offers: no proof of work below `max_bits`.
pub fn at_hardest(offers: &[Offer], max_bits: u8) -> bool {
    !offers
        .iter()
        .any(|o| matches!(o, Offer::Pow(p) if p.difficulty < max_bits))
}

/// The decision `elapsed_ms` later: every time to wait shorter by the whole seconds gone.
pub fn aged(decision: &Decision, elapsed_ms: u64) -> Decision {
    let gone = u32::try_from(elapsed_ms / 1_000).unwrap_or(u32::MAX);
    let mut d = decision.clone();
    for w in &mut d.windows {
        w.reset_s = w.reset_s.saturating_sub(gone).max(1);
    }
    d.retry_after_s = d.retry_after_s.map(|s| s.saturating_sub(gone).max(1));
    d
}

/// The isolate's memory, bounded by [`MEMO_ENTRIES`].
#[derive(Debug, Default)]
pub struct Memo {
    entries: HashMap<String, Remembered>,
    /// Clients forgotten after a redemption, and until when nothing more is remembered of them.
    forgotten: HashMap<String, u64>,
}

impl Memo {
    /// Remembers a denial of `client`, if it may be remembered and there is room.
    pub fn remember(&mut self, client: &str, r: Remembered) {
        if !rememberable(&r.decision) {
            return;
        }
        if self
            .forgotten
            .get(client)
            .is_some_and(|until| *until > r.at_ms)
        {
            return;
        }
        if self.entries.len() >= MEMO_ENTRIES {
            let now = r.at_ms;
            self.entries.retain(|_, e| e.until_ms > now);
            if self.entries.len() >= MEMO_ENTRIES {
                return;
            }
        }
        self.entries.insert(client.to_string(), r);
    }

    /// The remembered denial of `client` for a request on `route` costing `cost` at `now_ms`.
    pub fn recall(&self, client: &str, route: &str, cost: u32, now_ms: u64) -> Option<Recalled> {
        let e = self.entries.get(client)?;
        (e.route == route && e.cost == cost && now_ms >= e.at_ms && now_ms < e.until_ms).then(
            || Recalled {
                decision: aged(&e.decision, now_ms - e.at_ms),
                first_seen_ms: e.first_seen_ms,
                shown: e.shown.clone(),
                offers: e.offers.clone(),
            },
        )
    }

    /// Forgets `client` after a redemption at `now_ms`, and remembers nothing of it for a while.
    pub fn forget(&mut self, client: &str, now_ms: u64) {
        self.entries.remove(client);
        if self.forgotten.len() >= MEMO_ENTRIES {
            self.forgotten.retain(|_, until| *until > now_ms);
            if self.forgotten.len() >= MEMO_ENTRIES {
                self.forgotten.clear();
            }
        }
        self.forgotten.insert(client.to_string(), now_ms + MEMO_MS);
    }
}

/// Until when a denial made at `now_ms` may be answered from memory.
pub fn until(decision: &Decision, now_ms: u64) -> u64 {
    let fits_at = now_ms + u64::from(decision.retry_after_s.unwrap_or(0)) * 1_000;
    fits_at.min(now_ms + MEMO_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::quota::{Window, WindowStatus};

    fn denial(retry_s: u32, denied_by: &str) -> Decision {
        Decision {
            allowed: false,
            windows: vec![WindowStatus {
                name: "minute".into(),
                quota: 60,
                seconds: 60,
                remaining: 0,
                reset_s: retry_s,
            }],
            retry_after_s: Some(retry_s),
            denied_by: vec![denied_by.into()],
        }
    }

    fn remembered(d: Decision, at_ms: u64) -> Remembered {
        Remembered {
            route: "mcp".into(),
            cost: 1,
            at_ms,
            until_ms: until(&d, at_ms),
            decision: d,
            first_seen_ms: 0,
            shown: Policy::new(vec![Window::new("minute", 60, 60).unwrap()]).unwrap(),
            offers: Vec::new(),
        }
    }

    #[test]
    fn a_quota_denial_is_recalled_aged_for_the_same_request_only() {
        let mut m = Memo::default();
        m.remember("c", remembered(denial(30, "quota"), 10_000));
        let r = m.recall("c", "mcp", 1, 11_500).unwrap();
        assert_eq!(
            r.decision.retry_after_s,
            Some(29),
            "aged by the whole second gone"
        );
        assert_eq!(r.decision.windows[0].reset_s, 29);
        assert!(m.recall("c", "mcp", 2, 11_500).is_none(), "another cost");
        assert!(m.recall("c", "other", 1, 11_500).is_none(), "another route");
        assert!(m.recall("d", "mcp", 1, 11_500).is_none(), "another client");
        assert!(
            m.recall("c", "mcp", 1, 10_000 + MEMO_MS).is_none(),
            "past the memo"
        );
        assert!(
            m.recall("c", "mcp", 1, 9_000).is_none(),
            "before it was made"
        );
    }

    #[test]
    fn never_past_the_instant_the_request_fits() {
        let mut m = Memo::default();
        m.remember("c", remembered(denial(1, "quota"), 0));
        assert!(m.recall("c", "mcp", 1, 999).is_some());
        assert!(m.recall("c", "mcp", 1, 1_000).is_none());
    }

    #[test]
    fn limits_admissions_and_forgotten_clients_are_not_recalled() {
        let mut m = Memo::default();
        m.remember(
            "limit",
            remembered(denial(30, &format!("{LIMIT_PREFIX}mcp:search")), 0),
        );
        assert!(
            m.recall("limit", "mcp", 1, 1).is_none(),
            "a per-tool limit is not remembered"
        );
        let mut allowed = denial(30, "quota");
        allowed.allowed = true;
        m.remember("ok", remembered(allowed, 0));
        assert!(m.recall("ok", "mcp", 1, 1).is_none());
        m.remember("c", remembered(denial(30, "quota"), 0));
        m.forget("c", 10);
        assert!(
            m.recall("c", "mcp", 1, 11).is_none(),
            "forgotten after a redemption"
        );
        m.remember("c", remembered(denial(30, "quota"), 5));
        assert!(
            m.recall("c", "mcp", 1, 12).is_none(),
            "a denial answered while the redemption landed is not remembered"
        );
        m.remember("c", remembered(denial(30, "quota"), 10 + MEMO_MS));
        assert!(
            m.recall("c", "mcp", 1, 11 + MEMO_MS).is_some(),
            "remembered again later"
        );
    }

    #[test]
    fn only_challenges_that_cannot_get_harder_are_remembered() {
        let pow = |difficulty: u8| {
            Offer::Pow(crate::rails::challenge::PowChallenge {
                id: "c".into(),
                salt: "s".into(),
                difficulty,
                expires_at_ms: 0,
                reduced: false,
            })
        };
        assert!(at_hardest(&[], 18));
        assert!(at_hardest(&[pow(18)], 18));
        assert!(
            !at_hardest(&[pow(14)], 18),
            "a repeat offender's next puzzle is harder"
        );
    }

    #[test]
    fn the_memory_is_bounded() {
        let mut m = Memo::default();
        for i in 0..MEMO_ENTRIES + 10 {
            m.remember(&format!("c{i}"), remembered(denial(30, "quota"), 0));
        }
        assert_eq!(m.entries.len(), MEMO_ENTRIES);
        assert!(m
            .recall(&format!("c{}", MEMO_ENTRIES + 5), "mcp", 1, 1)
            .is_none());
        m.remember("late", remembered(denial(30, "quota"), MEMO_MS));
        assert!(
            m.recall("late", "mcp", 1, MEMO_MS + 1).is_some(),
            "room again once the rest expired"
        );
    }
}
