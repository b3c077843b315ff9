//! In-memory backends of the store traits, for native tests. Single-threaded like a Worker:
//! every method completes without yielding, so each is atomic, as its real backend must be.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{ChallengeRecord, ChallengeStore, Counters, CredentialUsage, Revocations, Unavailable};
use crate::credentials::grant::{Ask, Counter, Leased};
use crate::metering::quota::{decide_all, Check, Decision, QuotaState};

#[derive(Default)]
pub struct MemoryChallenges(RefCell<BTreeMap<String, ChallengeRecord>>);

impl ChallengeStore for MemoryChallenges {
    async fn insert(&self, record: &ChallengeRecord) -> Result<(), Unavailable> {
        self.0
            .borrow_mut()
            .insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<ChallengeRecord>, Unavailable> {
        Ok(self.0.borrow().get(id).cloned())
    }

    async fn redeem_once(&self, id: &str, now_ms: u64) -> Result<bool, Unavailable> {
        let mut map = self.0.borrow_mut();
        match map.get_mut(id) {
            Some(r) if !r.redeemed && r.expires_at_ms > now_ms => {
                r.redeemed = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge_expired(&self, cutoff_ms: u64) -> Result<usize, Unavailable> {
        let mut map = self.0.borrow_mut();
        let before = map.len();
        map.retain(|_, r| r.expires_at_ms >= cutoff_ms);
        Ok(before - map.len())
    }
}

#[derive(Default)]
pub struct MemoryCounters(RefCell<BTreeMap<String, BTreeMap<String, QuotaState>>>);

impl Counters for MemoryCounters {
    async fn check(
        &self,
        key: &str,
        checks: &[Check],
        now_ms: u64,
    ) -> Result<Decision, Unavailable> {
        let mut all = self.0.borrow_mut();
        let states = all.entry(key.to_string()).or_default();
        let (next, decision) = decide_all(checks, states, now_ms);
        *states = next;
        Ok(decision)
    }
}

#[derive(Default)]
pub struct MemoryRevocations(RefCell<BTreeMap<String, u64>>);

impl Revocations for MemoryRevocations {
    async fn revoke(&self, id: &str, expires_at_ms: u64, _now_ms: u64) -> Result<(), Unavailable> {
        let mut map = self.0.borrow_mut();
        let until = map.entry(id.to_string()).or_insert(expires_at_ms);
        *until = (*until).max(expires_at_ms);
        Ok(())
    }

    async fn active(&self, now_ms: u64) -> Result<Vec<String>, Unavailable> {
        Ok(self
            .0
            .borrow()
            .iter()
            .filter(|(_, until)| **until > now_ms)
            .map(|(id, _)| id.clone())
            .collect())
    }
}

#[derive(Default)]
pub struct MemoryUsage(RefCell<BTreeMap<String, Counter>>);

impl CredentialUsage for MemoryUsage {
    async fn lease(
        &self,
        jti: &str,
        ask: Ask,
        grant: u32,
        _expires_at_ms: u64,
    ) -> Result<Leased, Unavailable> {
        Ok(self
            .0
            .borrow_mut()
            .entry(jti.into())
            .or_default()
            .lease(ask, grant))
    }

    async fn claim(&self, jti: &str, by: &str, _expires_at_ms: u64) -> Result<bool, Unavailable> {
        Ok(self.0.borrow_mut().entry(jti.into()).or_default().claim(by))
    }
}
