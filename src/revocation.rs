//! Token revocation by `jti`. The list lives in D1; each isolate keeps a copy so that the hot path
//! does no I/O. The copy is refreshed in the background once it is older than `SOFT_MS`, and
//! synchronously once it is older than `HARD_MS`, so a revocation is honoured by every isolate
//! within `HARD_MS` plus one D1 read (under 10 s), busy or idle.

use std::cell::RefCell;
use std::collections::HashSet;

use gatehouse_core::denial::{Denial, Dependency};
use serde::Deserialize;
use worker::{console_error, Context, Env};

use crate::challenge_store::{db, execute};

const SOFT_MS: u64 = 3_000;
const HARD_MS: u64 = 8_000;

#[derive(Default)]
struct Cache {
    jtis: HashSet<String>,
    fetched_at_ms: Option<u64>,
    refreshing: bool,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

#[derive(Deserialize)]
struct Row {
    jti: String,
}

async fn refresh(env: &Env, now_ms: u64) -> Result<(), Denial> {
    let result = async {
        let rows = db(env)?
            .prepare("SELECT jti FROM revoked_tokens WHERE expires_at > ?1")
            .bind(&[(now_ms as f64).into()])?
            .all()
            .await?
            .results::<Row>()?;
        Ok::<_, worker::Error>(rows)
    }
    .await;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.refreshing = false;
        match result {
            Ok(rows) => {
                c.jtis = rows.into_iter().map(|r| r.jti).collect();
                c.fetched_at_ms = Some(now_ms);
                Ok(())
            }
            Err(e) => {
                console_error!("{{\"event\":\"dependency_failed\",\"dependency\":\"revocation_store\",\"error\":{:?}}}", e.to_string());
                Err(Denial::DependencyUnavailable(Dependency::RevocationStore))
            }
        }
    })
}

/// Whether `jti` is revoked, refreshing the isolate's copy as its age requires.
pub async fn is_revoked(env: &Env, ctx: &Context, jti: &str, now_ms: u64) -> Result<bool, Denial> {
    let (age, refreshing) = CACHE.with(|c| {
        let c = c.borrow();
        (
            c.fetched_at_ms.map(|t| now_ms.saturating_sub(t)),
            c.refreshing,
        )
    });
    match age {
        None => refresh(env, now_ms).await?,
        Some(age) if age > HARD_MS => refresh(env, now_ms).await?,
        Some(age) if age > SOFT_MS && !refreshing => {
            CACHE.with(|c| c.borrow_mut().refreshing = true);
            let env = env.clone();
            ctx.wait_until(async move {
                let _ = refresh(&env, now_ms).await;
            });
        }
        _ => {}
    }
    Ok(CACHE.with(|c| c.borrow().jtis.contains(jti)))
}

/// Records a revocation, and applies it to this isolate's copy at once.
pub async fn revoke(
    env: &Env,
    jti: &str,
    expires_at_ms: u64,
    now_ms: u64,
    reason: &str,
) -> worker::Result<()> {
    execute(
        env,
        "INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (jti) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
        &[jti.into(), (expires_at_ms as f64).into(), (now_ms as f64).into(), reason.into()],
    )
    .await?;
    CACHE.with(|c| c.borrow_mut().jtis.insert(jti.to_string()));
    Ok(())
}
