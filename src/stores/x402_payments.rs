//! The single-use record of x402 payments (`migrations/0008_x402_payments.sql`). A payment is
//! claimed by one `INSERT … ON CONFLICT DO NOTHING` whose changed-row count must be one: SQLite
//! serialises the inserts, so of two copies of a payload arriving at once exactly one goes on to
//! the facilitator and the origin.

use gatehouse_core::rails::x402::payload::Payment;
use gatehouse_core::wire::denial::{Denial, Dependency};
use worker::Env;

use crate::platform::respond;
use crate::stores::d1::execute;

/// Who claimed a payment, for what.
pub struct Claim<'a> {
    pub client_key: &'a str,
    pub route: &'a str,
    pub amount: u128,
}

/// Claims the payment: `Ok(false)` if it was claimed before.
pub async fn claim(
    env: &Env,
    payment: &Payment,
    by: &Claim<'_>,
    now_ms: u64,
) -> Result<bool, Denial> {
    let changed = execute(
        env,
        "INSERT INTO x402_payments (id, client_key, route, payer, amount, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
        &[
            payment.id.as_str().into(),
            by.client_key.into(),
            by.route.into(),
            payment.payer.as_str().into(),
            gatehouse_core::rails::x402::decimal(by.amount).into(),
            (now_ms as f64).into(),
            ((payment.valid_before_s * 1_000) as f64).into(),
        ],
    )
    .await
    .map_err(|e| respond::dependency_failed(Dependency::ChallengeStore, e))?;
    Ok(changed == 1)
}

/// Gives a claim back, when its payment was refused or nothing was served for it, so the same
/// authorization can pay later. Only a claim not settled is released.
pub async fn release(env: &Env, id: &str) {
    if let Err(e) = execute(
        env,
        "DELETE FROM x402_payments WHERE id = ?1 AND state = 'claimed'",
        &[id.into()],
    )
    .await
    {
        respond::dependency_failed(Dependency::ChallengeStore, e);
    }
}

/// Records how the payment ended: `settled` with its transaction, or `unsettled`.
pub async fn record(env: &Env, id: &str, tx: Option<&str>) {
    let (state, tx) = match tx {
        Some(tx) => ("settled", tx.into()),
        None => ("unsettled", worker::wasm_bindgen::JsValue::NULL),
    };
    if let Err(e) = execute(
        env,
        "UPDATE x402_payments SET state = ?2, tx = ?3 WHERE id = ?1",
        &[id.into(), state.into(), tx],
    )
    .await
    {
        respond::dependency_failed(Dependency::ChallengeStore, e);
    }
}

/// Drops the records of authorizations that expired before `cutoff_ms`.
pub async fn purge(env: &Env, cutoff_ms: u64) -> worker::Result<usize> {
    execute(
        env,
        "DELETE FROM x402_payments WHERE expires_at < ?1",
        &[(cutoff_ms as f64).into()],
    )
    .await
}
