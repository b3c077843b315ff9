//! Token revocation by `jti`. The list lives in D1; each isolate keeps a copy so that the hot path
//! does no I/O. When the copy is refreshed, and how a refresh and a revocation made meanwhile are
//! reconciled, is `gatehouse_core::credentials::revocation`'s to say; this module does the reads and writes.

use std::cell::RefCell;

use gatehouse_core::credentials::revocation::{Refresh, RevocationCache, Ticket};
use gatehouse_core::store::{Revocations, Unavailable};
use gatehouse_core::wire::denial::{Denial, Dependency};
use worker::{Context, Env};

use crate::stores::D1Revocations;

thread_local! {
    static CACHE: RefCell<RevocationCache> = RefCell::new(RevocationCache::default());
}

fn begin(now_ms: u64, background: bool) -> Ticket {
    CACHE.with(|c| c.borrow_mut().begin_refresh(now_ms, background))
}

/// Reads the store under a ticket taken just before, and lands what it read in the copy.
async fn refresh(env: &Env, ticket: Ticket, now_ms: u64) -> Result<(), Denial> {
    let result = D1Revocations(env).active(now_ms).await;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match result {
            Ok(ids) => {
                c.complete_refresh(ticket, ids);
                Ok(())
            }
            Err(_) => {
                c.fail_refresh(ticket);
                Err(Denial::DependencyUnavailable(Dependency::RevocationStore))
            }
        }
    })
}

/// Whether `jti` is revoked, refreshing the isolate's copy as its age requires.
pub async fn is_revoked(env: &Env, ctx: &Context, jti: &str, now_ms: u64) -> Result<bool, Denial> {
    if let Some(known) = is_revoked_now(env, ctx, jti, now_ms) {
        return Ok(known);
    }
    refresh(env, begin(now_ms, false), now_ms).await?;
    Ok(CACHE.with(|c| c.borrow().contains(jti)))
}

/// The same from the isolate's copy alone, with no wait: `None` when the copy is too old to
/// answer from and must be read again first. A copy due for a refresh in the background still
/// answers, and the refresh starts under `ctx`.
pub fn is_revoked_now(env: &Env, ctx: &Context, jti: &str, now_ms: u64) -> Option<bool> {
    match CACHE.with(|c| c.borrow().refresh_needed(now_ms)) {
        Refresh::Now => return None,
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
    Some(CACHE.with(|c| c.borrow().contains(jti)))
}

/// Records a revocation, and applies it to this isolate's copy once the store has it.
pub async fn revoke(
    env: &Env,
    jti: &str,
    expires_at_ms: u64,
    now_ms: u64,
    reason: &str,
) -> Result<(), Unavailable> {
    D1Revocations(env)
        .record(jti, expires_at_ms, now_ms, reason)
        .await?;
    CACHE.with(|c| c.borrow_mut().revoke_locally(jti));
    Ok(())
}
