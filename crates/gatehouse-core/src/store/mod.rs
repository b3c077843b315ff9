//! The state Gatehouse keeps, behind small traits: challenges (D1), per-client counters and
//! credential usage (Durable Objects), revocations (D1). The Worker shell implements them on its
//! bindings; `memory` implements them in memory for native tests; `contract` is the one suite
//! that pins their semantics (single-use redemption, expiry, window counting, one grant per
//! payment) and runs against both, natively and in workerd.
//!
//! The traits use `async fn`: every backend the shell has is asynchronous. Its futures are not
//! `Send` (a Worker is single-threaded), so no `Send` bound is asked for, which is what the
//! `async_fn_in_trait` lint warns about.
#![allow(async_fn_in_trait)]

pub mod contract;
pub mod memory;

use crate::credentials::grant::{Ask, Leased};
use crate::metering::quota::{Check, Decision};
use crate::rails::challenge::{Puzzle, StoredChallenge};

/// A backend failure: the caller answers `503` with `Retry-After`, never a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// A challenge as stored from its offer until it is purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub id: String,
    /// The client it was issued to: only that client may redeem it.
    pub client_key: String,
    /// The route it was offered on: what it buys pays on that route only. `None` for a challenge
    /// stored before challenges named their route.
    pub route: Option<String>,
    pub puzzle: Puzzle,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// Whether it buys the reduced grant.
    pub reduced: bool,
    /// For an L402 offer: its macaroon's token id.
    pub token_id: Option<Vec<u8>>,
    pub redeemed: bool,
}

impl ChallengeRecord {
    /// What redemption judges (`challenge::assess`).
    pub fn stored(&self) -> StoredChallenge {
        StoredChallenge {
            puzzle: self.puzzle.clone(),
            expires_at_ms: self.expires_at_ms,
            redeemed: self.redeemed,
        }
    }
}

pub trait ChallengeStore {
    async fn insert(&self, record: &ChallengeRecord) -> Result<(), Unavailable>;
    async fn load(&self, id: &str) -> Result<Option<ChallengeRecord>, Unavailable>;
    /// Marks the challenge redeemed if it is unredeemed and unexpired at `now_ms`, in one atomic
    /// step; `true` only for the one caller that did.
    async fn redeem_once(&self, id: &str, now_ms: u64) -> Result<bool, Unavailable>;
    /// Deletes challenges that expired before `cutoff_ms`; returns how many.
    async fn purge_expired(&self, cutoff_ms: u64) -> Result<usize, Unavailable>;
}

pub trait Counters {
    /// Decides `checks` for the client `key` at `now_ms`, all or nothing, and records the
    /// admission (`quota::decide_all`).
    async fn check(
        &self,
        key: &str,
        checks: &[Check],
        now_ms: u64,
    ) -> Result<Decision, Unavailable>;
}

pub trait Revocations {
    /// Revokes `id` until `expires_at_ms`; revoking again never shortens that.
    async fn revoke(&self, id: &str, expires_at_ms: u64, now_ms: u64) -> Result<(), Unavailable>;
    /// Every id revoked and not yet expired at `now_ms`.
    async fn active(&self, now_ms: u64) -> Result<Vec<String>, Unavailable>;
}

pub trait CredentialUsage {
    /// Leases units of credential `jti`'s grant of `grant` to an isolate that asks for them
    /// (`grant::Counter::lease`).
    async fn lease(
        &self,
        jti: &str,
        ask: Ask,
        grant: u32,
        expires_at_ms: u64,
    ) -> Result<Leased, Unavailable>;
    /// Claims the payment behind `jti` for the redemption of challenge `by`
    /// (`grant::Counter::claim`).
    async fn claim(&self, jti: &str, by: &str, expires_at_ms: u64) -> Result<bool, Unavailable>;
}
