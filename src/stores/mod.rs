//! The store traits of `gatehouse_core::store` on this platform's bindings: challenges and
//! revocations in D1 (`migrations/`), counters and credential usage in the Durable Objects
//! (`objects`, adapted in `counters`). The contract suite (`gatehouse_core::store::contract`) pins
//! their semantics; it runs against these in workerd through `routes::store_contract`, in the
//! build with the `store-contract` feature.
//!
//! Single use is by construction: one `UPDATE … WHERE id = ? AND redeemed_at IS NULL AND
//! expires_at > ?` whose changed-row count must be exactly one. SQLite serialises concurrent
//! updates, so only the first changes a row.

pub mod audit;
#[cfg(feature = "store-contract")]
pub mod counters;
pub mod d1;
pub mod revocation;
pub mod runtime;
pub mod x402_payments;

use gatehouse_core::rails::challenge::Puzzle;
use gatehouse_core::store::{ChallengeRecord, ChallengeStore, Revocations, Unavailable};
use gatehouse_core::wire::bytes::{from_hex, to_hex};
use gatehouse_core::wire::denial::{Denial, Dependency};
use serde::Deserialize;
use worker::{wasm_bindgen::JsValue, Env};

use crate::platform::respond;
use crate::stores::d1::{db, execute};

/// Logs a D1 failure once, and says which dependency failed.
pub fn unavailable(dependency: Dependency, e: impl std::fmt::Display) -> Unavailable {
    respond::dependency_failed(dependency, e);
    Unavailable(dependency.as_str().into())
}

/// A store failure as the client sees it: `503` with `Retry-After`.
pub fn denial(dependency: Dependency) -> impl Fn(Unavailable) -> Denial {
    move |_| Denial::DependencyUnavailable(dependency)
}

pub struct D1Challenges<'a>(pub &'a Env);

#[derive(Deserialize)]
struct ChallengeRow {
    id: String,
    kind: String,
    client_key: String,
    route: Option<String>,
    token_id: Option<String>,
    salt: Option<String>,
    difficulty: Option<f64>,
    payment_hash: Option<String>,
    created_at: f64,
    expires_at: f64,
    reduced: Option<f64>,
    redeemed_at: Option<f64>,
}

impl ChallengeRow {
    fn record(self) -> Option<ChallengeRecord> {
        let puzzle = match self.kind.as_str() {
            "pow" => Puzzle::Pow {
                salt: self.salt?,
                difficulty: self.difficulty? as u8,
            },
            "l402" => Puzzle::L402 {
                payment_hash: from_hex(self.payment_hash.as_deref()?)?.try_into().ok()?,
            },
            _ => return None,
        };
        Some(ChallengeRecord {
            id: self.id,
            client_key: self.client_key,
            route: self.route,
            puzzle,
            created_at_ms: self.created_at as u64,
            expires_at_ms: self.expires_at as u64,
            reduced: self.reduced.unwrap_or(0.0) > 0.0,
            token_id: self.token_id.as_deref().and_then(from_hex),
            redeemed: self.redeemed_at.is_some(),
        })
    }
}

const CHALLENGES: Dependency = Dependency::ChallengeStore;

impl ChallengeStore for D1Challenges<'_> {
    async fn insert(&self, r: &ChallengeRecord) -> Result<(), Unavailable> {
        let (kind, salt, difficulty, payment_hash) = match &r.puzzle {
            Puzzle::Pow { salt, difficulty } => (
                "pow",
                salt.as_str().into(),
                f64::from(*difficulty).into(),
                JsValue::NULL,
            ),
            Puzzle::L402 { payment_hash } => (
                "l402",
                JsValue::NULL,
                JsValue::NULL,
                to_hex(payment_hash).into(),
            ),
        };
        let token_id = r
            .token_id
            .as_deref()
            .map_or(JsValue::NULL, |t| to_hex(t).into());
        execute(
            self.0,
            "INSERT INTO challenges (id, kind, client_key, salt, difficulty, payment_hash, token_id, created_at, expires_at, reduced, route) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            &[
                r.id.as_str().into(),
                kind.into(),
                r.client_key.as_str().into(),
                salt,
                difficulty,
                payment_hash,
                token_id,
                (r.created_at_ms as f64).into(),
                (r.expires_at_ms as f64).into(),
                f64::from(u8::from(r.reduced)).into(),
                r.route.as_deref().map_or(JsValue::NULL, JsValue::from_str),
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| unavailable(CHALLENGES, e))
    }

    async fn load(&self, id: &str) -> Result<Option<ChallengeRecord>, Unavailable> {
        let row: Option<ChallengeRow> = async {
            db(self.0)?
                .prepare("SELECT id, kind, client_key, route, token_id, salt, difficulty, payment_hash, created_at, expires_at, redeemed_at, reduced FROM challenges WHERE id = ?1")
                .bind(&[id.into()])?
                .first(None)
                .await
        }
        .await
        .map_err(|e| unavailable(CHALLENGES, e))?;
        Ok(row.and_then(ChallengeRow::record))
    }

    async fn redeem_once(&self, id: &str, now_ms: u64) -> Result<bool, Unavailable> {
        let changes = execute(
            self.0,
            "UPDATE challenges SET redeemed_at = ?2 WHERE id = ?1 AND redeemed_at IS NULL AND expires_at > ?2",
            &[id.into(), (now_ms as f64).into()],
        )
        .await
        .map_err(|e| unavailable(CHALLENGES, e))?;
        Ok(changes == 1)
    }

    async fn purge_expired(&self, cutoff_ms: u64) -> Result<usize, Unavailable> {
        execute(
            self.0,
            "DELETE FROM challenges WHERE expires_at < ?1",
            &[(cutoff_ms as f64).into()],
        )
        .await
        .map_err(|e| unavailable(CHALLENGES, e))
    }
}

pub struct D1Revocations<'a>(pub &'a Env);

const REVOCATIONS: Dependency = Dependency::RevocationStore;

impl D1Revocations<'_> {
    /// Revokes `id` until `expires_at_ms`, noting why for the operator.
    pub async fn record(
        &self,
        id: &str,
        expires_at_ms: u64,
        now_ms: u64,
        reason: &str,
    ) -> Result<(), Unavailable> {
        execute(
            self.0,
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (jti) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
            &[id.into(), (expires_at_ms as f64).into(), (now_ms as f64).into(), reason.into()],
        )
        .await
        .map(|_| ())
        .map_err(|e| unavailable(REVOCATIONS, e))
    }
}

impl Revocations for D1Revocations<'_> {
    async fn revoke(&self, id: &str, expires_at_ms: u64, now_ms: u64) -> Result<(), Unavailable> {
        self.record(id, expires_at_ms, now_ms, "").await
    }

    async fn active(&self, now_ms: u64) -> Result<Vec<String>, Unavailable> {
        #[derive(Deserialize)]
        struct Row {
            jti: String,
        }
        let rows = async {
            db(self.0)?
                .prepare("SELECT jti FROM revoked_tokens WHERE expires_at > ?1")
                .bind(&[(now_ms as f64).into()])?
                .all()
                .await?
                .results::<Row>()
        }
        .await
        .map_err(|e| unavailable(REVOCATIONS, e))?;
        Ok(rows.into_iter().map(|r| r.jti).collect())
    }
}
