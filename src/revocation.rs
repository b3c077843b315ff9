//! Token revocation by `jti`. The list lives in D1; each isolate keeps a copy so that the hot path
//! does no I/O. When the copy is refreshed, and how a refresh and a revocation made meanwhile are
//! reconciled, is `gatehouse_core::revocation`'s to say; this module does the reads and writes.

use std::cell::RefCell;

use gatehouse_core::denial::{Denial, Dependency};
use gatehouse_core::revocation::{Refresh, RevocationCache, Ticket};
use serde::Deserialize;
use worker::{console_error, Context, Env};

use crate::challenge_store::{db, execute};

thread_local! {
    static CACHE: RefCell<RevocationCache> = RefCell::new(RevocationCache::default());
}

#[derive(Deserialize)]
struct Row {
    jti: String,
}

fn begin(now_ms: u64, background: bool) -> Ticket {
    CACHE.with(|c| c.borrow_mut().begin_refresh(now_ms, background))
}

/// Reads the store under a ticket taken just before, and lands what it read in the copy.
async fn refresh(env: &Env, ticket: Ticket, now_ms: u64) -> Result<(), Denial> {
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
        match result {
            Ok(rows) => {
                c.complete_refresh(ticket, rows.into_iter().map(|r| r.jti));
                Ok(())
            }
            Err(e) => {
                c.fail_refresh(ticket);
                console_error!("{{\"event\":\"dependency_failed\",\"dependency\":\"revocation_store\",\"error\":{:?}}}", e.to_string());
                Err(Denial::DependencyUnavailable(Dependency::RevocationStore))
            }
        }
    })
}

/// Whether `jti` is revoked, refreshing the isolate's copy as its age requires.
pub async fn is_revoked(env: &Env, ctx: &Context, jti: &str, now_ms: u64) -> Result<bool, Denial> {
    match CACHE.with(|c| c.borrow().refresh_needed(now_ms)) {
        Refresh::Now => refresh(env, begin(now_ms, false), now_ms).await?,
        Refresh::Background => {
            // The ticket is taken now, so the next request already sees a refresh under way.
            let ticket = begin(now_ms, true);
            let env = env.clone();
            ctx.wait_until(async move {
                let _ = refresh(&env, ticket, now_ms).await;
            });
        }
        Refresh::None => {}
    }
    Ok(CACHE.with(|c| c.borrow().contains(jti)))
}

/// Records a revocation, and applies it to this isolate's copy once the store has it.
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
    CACHE.with(|c| c.borrow_mut().revoke_locally(jti));
    Ok(())
}
