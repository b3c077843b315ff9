//! The store contract (`gatehouse_core::store::contract`) against the in-memory backends. The same
//! suite runs in workerd against D1 and the Durable Objects (`tests/store_contract.test.mjs`).

use gatehouse_core::store::contract::{block_on, run_all};
use gatehouse_core::store::memory::{
    MemoryChallenges, MemoryCounters, MemoryRevocations, MemoryUsage,
};

#[test]
fn the_in_memory_backends_meet_the_store_contract() {
    let outcomes = block_on(run_all(
        &MemoryChallenges::default(),
        &MemoryCounters::default(),
        &MemoryRevocations::default(),
        &MemoryUsage::default(),
        "native:",
    ));
    assert_eq!(outcomes.len(), 8);
    let failed: Vec<_> = outcomes.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The suite can fail: a backend that lets every redemption win is caught.
#[test]
fn a_backend_that_redeems_twice_fails_the_contract() {
    use gatehouse_core::store::{ChallengeRecord, ChallengeStore, Unavailable};
    struct Leaky(MemoryChallenges);
    impl ChallengeStore for Leaky {
        async fn insert(&self, r: &ChallengeRecord) -> Result<(), Unavailable> {
            self.0.insert(r).await
        }
        async fn load(&self, id: &str) -> Result<Option<ChallengeRecord>, Unavailable> {
            self.0.load(id).await
        }
        async fn redeem_once(&self, id: &str, now_ms: u64) -> Result<bool, Unavailable> {
            Ok(self
                .0
                .load(id)
                .await?
                .is_some_and(|r| r.expires_at_ms > now_ms))
        }
        async fn purge_expired(&self, cutoff_ms: u64) -> Result<usize, Unavailable> {
            self.0.purge_expired(cutoff_ms).await
        }
    }
    let outcomes = block_on(run_all(
        &Leaky(MemoryChallenges::default()),
        &MemoryCounters::default(),
        &MemoryRevocations::default(),
        &MemoryUsage::default(),
        "leaky:",
    ));
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        failed,
        [
            "challenges_are_redeemed_once",
            "concurrent_redemptions_have_one_winner"
        ]
    );
}
