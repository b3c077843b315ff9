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
//! the grant: **the overshoot is zero**. The price is the other way round: units leased to one
//! isolate cannot be spent in another. So a lease is sized by demand: twice what the asking
//! isolate admitted over the last [`DEMAND_WINDOW_MS`] (at least [`MIN_LEASE`]), and never more
//! than half of what is left. A client whose requests move between isolates finds the rest at
//! the counter; what an isolate holds unspent, when it goes quiet or away, is at most its last
//! lease and the unspent half of the one before (about three times its busiest recent window of
//! use; each lease no more than half of what was left), or the last `2 × MIN_LEASE` units, plus
//! `MIN_LEASE` for each request that found the lease short while another was already asking
//! (the shell's `usage::needs_counter`). Sized by what is left alone, the first isolate took
//! half of the grant and the fourth an eighth of the rest, and a client sent to the fourth was
//! refused while the others held most of what it had paid for. A credential's first use in an
//! isolate waits for its first lease; after that, a busy isolate renews in the background once
//! half of a lease is gone, and its leases grow with its use: about one counter call per window
//! of use once it is steady, never per request.

use serde::{Deserialize, Serialize};

/// Below this many units left, a lease takes all of them: the tail of a grant is not worth a
/// call per unit.
pub const MIN_LEASE: u32 = 8;

/// After a renewal failed, the next is tried no sooner than this: a counter that is down must
/// not be asked on every request.
pub const RENEW_BACKOFF_MS: u64 = 1_000;

/// A lease asks for twice what the isolate admitted over this long (see the module's header).
pub const DEMAND_WINDOW_MS: u64 = 5_000;

/// What an isolate asks of the counter: the units the request in hand needs, and what its recent
/// use says the lease should hold ([`Lease::ask`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub at_least: u32,
    pub want: u32,
}

/// How many units a lease hands out when `left` are left: what the isolate wants, within
/// `MIN_LEASE` and half of what is left (so that other isolates still find some), never fewer
/// than the request needs, and all of a small rest. Zero when the request does not fit.
pub fn lease_size(left: u32, ask: Ask) -> u32 {
    if ask.at_least > left || left == 0 {
        return 0;
    }
    if left <= MIN_LEASE * 2 {
        return left;
    }
    let half = left.div_ceil(2);
    ask.want.clamp(MIN_LEASE, half).max(ask.at_least)
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
    /// Units admitted in the demand window that began at `window_start_ms`, and in the one
    /// before it (zero if it ended more than a window ago).
    pub window_used: u32,
    pub previous_used: u32,
    pub window_start_ms: u64,
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
        self.note_use(cost, now_ms);
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

    fn note_use(&mut self, cost: u32, now_ms: u64) {
        if now_ms >= self.window_start_ms.saturating_add(DEMAND_WINDOW_MS) {
            let adjacent = now_ms < self.window_start_ms.saturating_add(2 * DEMAND_WINDOW_MS);
            self.previous_used = if adjacent { self.window_used } else { 0 };
            self.window_used = 0;
            self.window_start_ms = now_ms;
        }
        self.window_used = self.window_used.saturating_add(cost);
    }

    /// What to ask the counter for, for a request of `cost` (what this lease lacks of it, at
    /// least one unit) and for the use to come: twice the busier of the current and the previous
    /// demand windows.
    pub fn ask(&self, cost: u32) -> Ask {
        Ask {
            at_least: cost.saturating_sub(self.unspent()).max(1),
            want: self
                .window_used
                .max(self.previous_used)
                .saturating_mul(2)
                .max(MIN_LEASE),
        }
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
    /// Leases units of a grant of `grant` to an isolate that asks for them ([`lease_size`]).
    /// Marks the credential used even when nothing is leased.
    pub fn lease(&mut self, ask: Ask, grant: u32) -> Leased {
        let leased = self.leased.unwrap_or(0);
        let left = grant.saturating_sub(leased);
        if self.claimed_by.is_some() {
            return Leased {
                granted: 0,
                left,
                redeemed: true,
            };
        }
        let granted = lease_size(left, ask);
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
mod tests;
