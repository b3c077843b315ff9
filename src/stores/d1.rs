//! D1 access shared by the stores (`migrations/`): the binding, one write helper, and the count
//! of challenges that expired unredeemed (for the metrics, before the purge deletes them). The
//! challenge store itself is `stores::D1Challenges`.

use serde::Deserialize;
use worker::{wasm_bindgen::JsValue, D1Database, Env};

pub const BINDING: &str = "DB";

pub fn db(env: &Env) -> worker::Result<D1Database> {
    env.d1(BINDING)
}

/// Runs one write statement and returns how many rows it changed.
pub async fn execute(env: &Env, sql: &str, args: &[JsValue]) -> worker::Result<usize> {
    let meta = db(env)?.prepare(sql).bind(args)?.run().await?.meta()?;
    Ok(meta.and_then(|m| m.changes).unwrap_or(0))
}

/// Challenges that expired unredeemed before `cutoff_ms`, by kind: counted before the purge
/// deletes them, for the metrics.
pub async fn expired_unredeemed(env: &Env, cutoff_ms: u64) -> worker::Result<Vec<(String, u64)>> {
    #[derive(Deserialize)]
    struct Count {
        kind: String,
        n: f64,
    }
    let rows = db(env)?
        .prepare("SELECT kind, COUNT(*) AS n FROM challenges WHERE expires_at < ?1 AND redeemed_at IS NULL GROUP BY kind")
        .bind(&[(cutoff_ms as f64).into()])?
        .all()
        .await?
        .results::<Count>()?;
    Ok(rows.into_iter().map(|c| (c.kind, c.n as u64)).collect())
}
