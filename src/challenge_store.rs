//! Challenges in D1 (`migrations/0001_challenges_and_revocations.sql`).
//!
//! Redemption is single-use by construction: one `UPDATE … WHERE id = ? AND redeemed_at IS NULL
//! AND expires_at > ?` whose changed-row count must be exactly one. Two concurrent redemptions of
//! one solution both pass the read-side judgement, but SQLite serialises the two updates and only
//! the first changes a row; the second sees zero changes and is told the challenge was redeemed.

use gatehouse_core::bytes::from_hex;
use gatehouse_core::challenge::{L402Offer, PowChallenge, Puzzle, StoredChallenge};
use gatehouse_core::denial::{Denial, Dependency};
use serde::Deserialize;
use worker::{console_error, wasm_bindgen::JsValue, D1Database, Env};

pub const BINDING: &str = "DB";

pub fn db(env: &Env) -> worker::Result<D1Database> {
    env.d1(BINDING)
}

/// Runs one write statement and returns how many rows it changed.
pub async fn execute(env: &Env, sql: &str, args: &[JsValue]) -> worker::Result<usize> {
    let meta = db(env)?.prepare(sql).bind(args)?.run().await?.meta()?;
    Ok(meta.and_then(|m| m.changes).unwrap_or(0))
}

fn unavailable(e: worker::Error) -> Denial {
    console_error!(
        "{{\"event\":\"dependency_failed\",\"dependency\":\"challenge_store\",\"error\":{:?}}}",
        e.to_string()
    );
    Denial::DependencyUnavailable(Dependency::ChallengeStore)
}

pub async fn insert_pow(
    env: &Env,
    c: &PowChallenge,
    client_key: &str,
    now_ms: u64,
) -> Result<(), Denial> {
    execute(
        env,
        "INSERT INTO challenges (id, kind, client_key, salt, difficulty, created_at, expires_at, reduced) VALUES (?1, 'pow', ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
                c.id.as_str().into(),
                client_key.into(),
                c.salt.as_str().into(),
                f64::from(c.difficulty).into(),
                (now_ms as f64).into(),
                (c.expires_at_ms as f64).into(),
                f64::from(u8::from(c.reduced)).into(),
            ],
    )
    .await
    .map(|_| ())
    .map_err(unavailable)
}

/// Stores an L402 offer with the token id of its macaroon, so that redeeming the payment here can
/// be told apart from spending the credential (one payment, one grant).
pub async fn insert_l402(
    env: &Env,
    offer: &L402Offer,
    token_id_hex: &str,
    client_key: &str,
    now_ms: u64,
) -> Result<(), Denial> {
    execute(
        env,
        "INSERT INTO challenges (id, kind, client_key, payment_hash, token_id, created_at, expires_at) VALUES (?1, 'l402', ?2, ?3, ?4, ?5, ?6)",
        &[
                offer.challenge_id.as_str().into(),
                client_key.into(),
                offer.payment_hash.as_str().into(),
                token_id_hex.into(),
                (now_ms as f64).into(),
                (offer.expires_at_ms as f64).into(),
            ],
    )
    .await
    .map(|_| ())
    .map_err(unavailable)
}

/// A stored challenge with when it was made, for whom, and whether it buys a reduced grant.
pub struct Loaded {
    pub stored: StoredChallenge,
    pub created_at_ms: u64,
    pub reduced: bool,
    /// The client it was issued to: only that client may redeem it.
    pub client_key: String,
    /// For an L402 offer: its macaroon's token id.
    pub token_id: Option<Vec<u8>>,
}

#[derive(Deserialize)]
struct Row {
    kind: String,
    client_key: String,
    token_id: Option<String>,
    salt: Option<String>,
    difficulty: Option<f64>,
    payment_hash: Option<String>,
    created_at: f64,
    expires_at: f64,
    reduced: Option<f64>,
    redeemed_at: Option<f64>,
}

impl Row {
    fn puzzle(&self) -> Option<Puzzle> {
        match self.kind.as_str() {
            "pow" => Some(Puzzle::Pow {
                salt: self.salt.clone()?,
                difficulty: self.difficulty? as u8,
            }),
            "l402" => Some(Puzzle::L402 {
                payment_hash: from_hex(self.payment_hash.as_deref()?)?.try_into().ok()?,
            }),
            _ => None,
        }
    }
}

/// The challenge's stored state and when it was created, or `None` for an unknown id.
pub async fn load(env: &Env, id: &str) -> Result<Option<Loaded>, Denial> {
    let row: Option<Row> = async {
        db(env)?
            .prepare("SELECT kind, client_key, token_id, salt, difficulty, payment_hash, created_at, expires_at, redeemed_at, reduced FROM challenges WHERE id = ?1")
            .bind(&[id.into()])?
            .first(None)
            .await
    }
    .await
    .map_err(unavailable)?;
    Ok(row.and_then(|r| {
        let stored = StoredChallenge {
            puzzle: r.puzzle()?,
            expires_at_ms: r.expires_at as u64,
            redeemed: r.redeemed_at.is_some(),
        };
        Some(Loaded {
            stored,
            created_at_ms: r.created_at as u64,
            reduced: r.reduced.unwrap_or(0.0) > 0.0,
            token_id: r.token_id.as_deref().and_then(from_hex),
            client_key: r.client_key,
        })
    }))
}

/// Marks the challenge redeemed if it still can be. `true` only for the one caller that did.
pub async fn redeem_once(env: &Env, id: &str, now_ms: u64) -> Result<bool, Denial> {
    let changes = execute(
        env,
        "UPDATE challenges SET redeemed_at = ?2 WHERE id = ?1 AND redeemed_at IS NULL AND expires_at > ?2",
        &[id.into(), (now_ms as f64).into()],
    )
    .await
    .map_err(unavailable)?;
    Ok(changes == 1)
}

/// Deletes challenges that expired more than `grace_ms` ago. Until then a late redemption gets
/// 410 rather than 404, which tells an agent its solver is too slow, not that it is lost.
pub async fn purge_expired(env: &Env, now_ms: u64, grace_ms: u64) -> worker::Result<usize> {
    let cutoff = now_ms.saturating_sub(grace_ms) as f64;
    execute(
        env,
        "DELETE FROM challenges WHERE expires_at < ?1",
        &[cutoff.into()],
    )
    .await
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
