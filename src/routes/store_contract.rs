//! `POST /__store-contract`: runs the store contract (`gatehouse_core::store::contract`) against
//! this deployment's D1 and Durable Objects, so the one suite that pins the in-memory backends
//! natively also pins the real ones (`tests/store_contract.test.mjs`). It writes test rows, so it
//! is compiled only with the `store-contract` feature (the test build, not the release one), and
//! even there answers only with `LOCAL_DEV` and `STORE_CONTRACT_ROUTE=enabled`; anywhere else the
//! path is the origin's.

use gatehouse_core::config::Config;
use gatehouse_core::store::contract::run_all;
use gatehouse_core::wire::bytes::to_hex;
use gatehouse_core::wire::denial::Denial;
use serde_json::json;
use worker::{Env, Response};

use crate::platform::random;
use crate::platform::respond;
use crate::stores::counters::{DoCounters, DoUsage};
use crate::stores::{D1Challenges, D1Revocations};

pub const PATH: &str = "/__store-contract";

pub fn enabled(env: &Env, cfg: &Config) -> bool {
    cfg.local_dev
        && env
            .var("STORE_CONTRACT_ROUTE")
            .is_ok_and(|v| v.to_string() == "enabled")
}

pub async fn handle(env: &Env) -> Result<Response, Denial> {
    let ns = format!(
        "contract-{}:",
        to_hex(&random::bytes::<8>().ok_or(Denial::Internal)?)
    );
    let outcomes = run_all(
        &D1Challenges(env),
        &DoCounters(env),
        &D1Revocations(env),
        &DoUsage(env),
        &ns,
    )
    .await;
    let results: Vec<_> = outcomes
        .into_iter()
        .map(|(name, r)| json!({ "name": name, "ok": r.is_ok(), "error": r.err() }))
        .collect();
    respond::json(200, &json!({ "namespace": ns, "results": results }))
        .map_err(|_| Denial::Internal)
}
