//! The gate in front of the origin: a valid access token admits with no I/O on the request path;
//! otherwise the client's quota decides; at exhaustion, and only then, a 402 with a fresh
//! proof-of-work challenge (PROTOCOLS §1).

use gatehouse_core::challenge::PowChallenge;
use gatehouse_core::config::Config;
use gatehouse_core::denial::Denial;
use gatehouse_core::quota::Decision;
use gatehouse_core::ratelimit::{quota_headers, token_headers};
use gatehouse_core::token::{self, TokenRejection};
use worker::{Context, Env, Request, Response};

use crate::request_facts::RequestFacts;
use crate::{challenge_store, proxy, quota_do, random, revocation, token_usage, VERIFY_PATH};

pub const TOKEN_HEADER: &str = "x-access-token";

pub async fn handle(
    req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let facts = RequestFacts::read(&req, cfg);
    let token = req
        .headers()
        .get(TOKEN_HEADER)
        .ok()
        .flatten()
        .filter(|t| !t.trim().is_empty());
    if let Some(token) = token {
        if let Some(headers) = admit_with_token(env, ctx, cfg, &facts, &token, now_ms).await? {
            return proxy::forward(&req, &facts, cfg, &headers).await;
        }
        // A spent token falls through to the quota, like no token at all.
    }
    let decision = quota_do::check_quota(env, &facts.client_key, &cfg.quota, 1, now_ms).await?;
    if decision.allowed {
        return proxy::forward(&req, &facts, cfg, &quota_headers(&cfg.quota, &decision)).await;
    }
    Err(challenge(env, cfg, &facts, decision, now_ms).await?)
}

/// `Some(headers)` when the token admits this request, `None` when its grant is spent.
async fn admit_with_token(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    facts: &RequestFacts,
    token: &str,
    now_ms: u64,
) -> Result<Option<Vec<(&'static str, String)>>, Denial> {
    let now_s = now_ms / 1_000;
    let claims = token::check(
        &cfg.token,
        token,
        &facts.audience,
        &facts.binding_hash(cfg),
        now_s,
    )
    .map_err(Denial::InvalidToken)?;
    if revocation::is_revoked(env, ctx, &claims.jti, now_ms).await? {
        return Err(Denial::InvalidToken(TokenRejection::Revoked));
    }
    let expires_at_ms = claims.exp * 1_000;
    let Some(taken) = token_usage::try_take(&claims.jti, claims.grant, expires_at_ms, now_ms)
    else {
        return Ok(None);
    };
    if let Some(count) = taken.report {
        let (env, jti) = (env.clone(), claims.jti.clone());
        ctx.wait_until(async move {
            if let Ok(total) = quota_do::spend_token(&env, &jti, count, expires_at_ms).await {
                token_usage::observe_total(&jti, total);
            }
        });
    }
    let used = taken.used;
    Ok(Some(
        token_headers(
            claims.grant,
            used,
            claims.exp - claims.iat,
            claims.exp - now_s,
        )
        .to_vec(),
    ))
}

async fn challenge(
    env: &Env,
    cfg: &Config,
    facts: &RequestFacts,
    decision: Decision,
    now_ms: u64,
) -> Result<Denial, Denial> {
    let random = random::bytes::<32>().ok_or(Denial::Internal)?;
    let pow = PowChallenge::new(&random, cfg.pow.base_bits, now_ms, cfg.challenge_ttl_s);
    challenge_store::insert_pow(env, &pow, &facts.client_key, now_ms).await?;
    Ok(Denial::QuotaExhausted {
        policy: cfg.quota.clone(),
        decision,
        pow,
        verify_url: format!("{}{VERIFY_PATH}", facts.audience),
    })
}
