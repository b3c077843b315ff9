//! The Durable Objects behind the counter traits of `gatehouse_core::store`, for the store
//! contract route (`routes::store_contract`) only: the gate calls `client_counter` and
//! `credential_counter` directly, so these exist only in the `store-contract` build.

use gatehouse_core::credentials::grant::{Ask, Leased};
use gatehouse_core::metering::quota::{Check, Decision};
use gatehouse_core::store::{Counters, CredentialUsage, Unavailable};
use gatehouse_core::wire::denial::Dependency;
use worker::Env;

use crate::objects::client_counter;
use crate::objects::credential_counter;

/// The clients' counters, in their quota objects.
pub struct DoCounters<'a>(pub &'a Env);

impl Counters for DoCounters<'_> {
    async fn check(
        &self,
        key: &str,
        checks: &[Check],
        now_ms: u64,
    ) -> Result<Decision, Unavailable> {
        client_counter::check_quota(self.0, key, checks.to_vec(), now_ms)
            .await
            .map(|reply| reply.decision)
            .map_err(|_| Unavailable(Dependency::QuotaStore.as_str().into()))
    }
}

/// The credentials' counters, one object each.
pub struct DoUsage<'a>(pub &'a Env);

impl CredentialUsage for DoUsage<'_> {
    async fn lease(
        &self,
        jti: &str,
        ask: Ask,
        grant: u32,
        expires_at_ms: u64,
    ) -> Result<Leased, Unavailable> {
        credential_counter::lease(self.0, jti, ask, grant, expires_at_ms)
            .await
            .map_err(|_| Unavailable(Dependency::QuotaStore.as_str().into()))
    }

    async fn claim(&self, jti: &str, by: &str, expires_at_ms: u64) -> Result<bool, Unavailable> {
        credential_counter::claim_payment(self.0, jti, by, expires_at_ms)
            .await
            .map_err(|_| Unavailable(Dependency::QuotaStore.as_str().into()))
    }
}
