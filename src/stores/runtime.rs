//! State the operator changes while the gateway runs, kept in D1 and cached per isolate for
//! `TTL_MS`: the runtime policy (difficulty bounds, offers) and the client tier table. A change
//! made through the admin API reaches every isolate within `TTL_MS`.

use std::cell::RefCell;
use std::collections::HashMap;

use gatehouse_core::policy::runtime::RuntimePolicy;
use gatehouse_core::wire::denial::{Denial, Dependency};
use serde::Deserialize;
use worker::Env;

use crate::platform::respond;
use crate::stores::d1::{db, execute};

const TTL_MS: u64 = 5_000;

#[derive(Default)]
struct Cache {
    policy: Option<(RuntimePolicy, u64)>,
    tiers: Option<(HashMap<String, String>, u64)>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

fn unavailable(e: worker::Error) -> Denial {
    respond::dependency_failed(Dependency::ChallengeStore, e)
}

#[derive(Deserialize)]
struct PolicyRow {
    document: String,
}

pub async fn runtime_policy(env: &Env, now_ms: u64) -> Result<RuntimePolicy, Denial> {
    if let Some((p, at)) = CACHE.with(|c| c.borrow().policy.clone()) {
        if now_ms.saturating_sub(at) < TTL_MS {
            return Ok(p);
        }
    }
    let row: Option<PolicyRow> = async {
        db(env)?
            .prepare("SELECT document FROM runtime_policy WHERE id = 1")
            .first(None)
            .await
    }
    .await
    .map_err(unavailable)?;
    let policy: RuntimePolicy = row
        .and_then(|r| serde_json::from_slice(r.document.as_bytes()).ok())
        .unwrap_or_default();
    CACHE.with(|c| c.borrow_mut().policy = Some((policy.clone(), now_ms)));
    Ok(policy)
}

/// The runtime policy as this isolate last read it, without I/O.
pub fn cached_runtime_policy() -> RuntimePolicy {
    CACHE
        .with(|c| c.borrow().policy.clone())
        .map(|(p, _)| p)
        .unwrap_or_default()
}

pub async fn save_policy(env: &Env, policy: &RuntimePolicy, now_ms: u64) -> Result<(), Denial> {
    let doc = serde_json::to_string(policy).map_err(|_| Denial::Internal)?;
    execute(
        env,
        "INSERT INTO runtime_policy (id, document, updated_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
        &[doc.into(), (now_ms as f64).into()],
    )
    .await
    .map_err(unavailable)?;
    CACHE.with(|c| c.borrow_mut().policy = Some((policy.clone(), now_ms)));
    Ok(())
}

#[derive(Deserialize, serde::Serialize, Clone)]
pub struct TierRow {
    pub client_id: String,
    pub tier: String,
}

pub async fn list_tiers(env: &Env) -> Result<Vec<TierRow>, Denial> {
    async {
        db(env)?
            .prepare("SELECT client_id, tier FROM client_tiers ORDER BY client_id")
            .all()
            .await?
            .results::<TierRow>()
    }
    .await
    .map_err(unavailable)
}

/// The tier set for `client_id` through the admin API, if any.
pub async fn tier_for(env: &Env, client_id: &str, now_ms: u64) -> Result<Option<String>, Denial> {
    let cached = CACHE
        .with(|c| c.borrow().tiers.clone())
        .filter(|(_, at)| now_ms.saturating_sub(*at) < TTL_MS);
    let table = match cached {
        Some((t, _)) => t,
        None => {
            let t: HashMap<String, String> = list_tiers(env)
                .await?
                .into_iter()
                .map(|r| (r.client_id, r.tier))
                .collect();
            CACHE.with(|c| c.borrow_mut().tiers = Some((t.clone(), now_ms)));
            t
        }
    };
    Ok(table.get(client_id).cloned())
}

pub async fn set_tier(env: &Env, row: &TierRow, now_ms: u64) -> Result<(), Denial> {
    execute(
        env,
        "INSERT INTO client_tiers (client_id, tier, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (client_id) DO UPDATE SET tier = excluded.tier, updated_at = excluded.updated_at",
        &[row.client_id.as_str().into(), row.tier.as_str().into(), (now_ms as f64).into()],
    )
    .await
    .map_err(unavailable)?;
    CACHE.with(|c| c.borrow_mut().tiers = None);
    Ok(())
}
