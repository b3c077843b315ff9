//! An isolate's copy of the revocation list (docs/accounting.md, "Revocation"): when to refresh it
//! from the store, and how a refresh and a local revocation that overlap are reconciled.
//!
//! The copy is refreshed in the background once older than `SOFT_MS`, and before answering once
//! older than `HARD_MS`, so every isolate honours a revocation within `HARD_MS` plus one read.
//!
//! A refresh replaces the copy with what the store held when it read it. A revocation made in this
//! isolate while that read was under way may be missing from it, and must not be dropped when the
//! refresh lands. So every refresh and every local revocation takes a number from one counter: a
//! refresh keeps the local revocations numbered after its own (the store may not have had them);
//! those numbered before it were written to the store before the refresh began (the shell records
//! a revocation locally only once the store has it), so its read includes them. A refresh that
//! lands after a later one has is older news and is ignored.

use std::collections::{HashMap, HashSet};

/// What a revocation names, told by the form of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// An access token: 32 hex digits, its `jti`.
    AccessToken,
    /// An L402 credential: `l402:` and its token id's 64 hex digits.
    L402,
    /// Every API key minted for an id: `key:<id>`.
    ApiKey,
}

impl Revoked {
    /// The kind of an id an operator may revoke by name (`key:` ids are revoked through the keys
    /// route, which builds them).
    pub fn of_jti(jti: &str) -> Option<Self> {
        let hex = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if hex(jti, 32) {
            Some(Self::AccessToken)
        } else if jti.strip_prefix("l402:").is_some_and(|t| hex(t, 64)) {
            Some(Self::L402)
        } else {
            None
        }
    }
}

/// The longest a credential of each kind lives under the configuration, from the instant it is
/// minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// The longest access token: a full token or a reduced one, whichever lives longer.
    pub token_s: u32,
    /// An L402 credential: paying may take until the invoice expires, and the credential then
    /// lives a token's lifetime.
    pub l402_s: u32,
}

/// API keys carry no expiry: their revocation is kept for ten years, which is as good as forever
/// for a key and still lets the store forget it some day.
pub const API_KEY_KEPT_MS: u64 = 10 * 365 * 24 * 3_600 * 1_000;

/// Until when a revocation made at `now_ms` must be kept: as long as anything it revokes can
/// still verify. A credential revoked by id was minted no later than now, so it is valid at most
/// its kind's whole lifetime from now.
pub fn kept_until_ms(kind: Revoked, lifetimes: Lifetimes, now_ms: u64) -> u64 {
    let lifetime_ms = match kind {
        Revoked::AccessToken => u64::from(lifetimes.token_s) * 1_000,
        Revoked::L402 => u64::from(lifetimes.l402_s) * 1_000,
        Revoked::ApiKey => API_KEY_KEPT_MS,
    };
    now_ms.saturating_add(lifetime_ms)
}

pub const SOFT_MS: u64 = 3_000;
pub const HARD_MS: u64 = 8_000;

/// What the copy's age asks for before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    None,
    Background,
    Now,
}

/// A refresh under way: hand it back with what the store returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    seq: u64,
    now_ms: u64,
}

#[derive(Debug, Clone, Default)]
pub struct RevocationCache {
    jtis: HashSet<String>,
    fetched_at_ms: Option<u64>,
    /// The ticket whose read the copy reflects.
    applied: u64,
    /// Revocations made here, by the number they took, until a refresh that began after them lands.
    local: HashMap<String, u64>,
    counter: u64,
    background: Option<u64>,
}

impl RevocationCache {
    pub fn refresh_needed(&self, now_ms: u64) -> Refresh {
        match self.fetched_at_ms.map(|t| now_ms.saturating_sub(t)) {
            None => Refresh::Now,
            Some(age) if age > HARD_MS => Refresh::Now,
            Some(age) if age > SOFT_MS && self.background.is_none() => Refresh::Background,
            _ => Refresh::None,
        }
    }

    /// Call just before reading the store.
    pub fn begin_refresh(&mut self, now_ms: u64, background: bool) -> Ticket {
        self.counter += 1;
        if background {
            self.background = Some(self.counter);
        }
        Ticket {
            seq: self.counter,
            now_ms,
        }
    }

    /// The store's list as read under `ticket`.
    pub fn complete_refresh(&mut self, ticket: Ticket, stored: impl IntoIterator<Item = String>) {
        self.end(ticket);
        if ticket.seq < self.applied {
            return;
        }
        self.local.retain(|_, seq| *seq > ticket.seq);
        self.jtis = stored.into_iter().collect();
        self.jtis.extend(self.local.keys().cloned());
        self.applied = ticket.seq;
        self.fetched_at_ms = Some(ticket.now_ms);
    }

    /// The read failed: the copy stays as it was, and a later request tries again.
    pub fn fail_refresh(&mut self, ticket: Ticket) {
        self.end(ticket);
    }

    fn end(&mut self, ticket: Ticket) {
        if self.background == Some(ticket.seq) {
            self.background = None;
        }
    }

    /// Call once the store has the revocation.
    pub fn revoke_locally(&mut self, jti: &str) {
        self.counter += 1;
        self.local.insert(jti.to_string(), self.counter);
        self.jtis.insert(jti.to_string());
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.jtis.contains(jti)
    }
}

#[cfg(test)]
mod tests;
