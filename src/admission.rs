//! Admission by credential, with no I/O on the request path: the gateway's own access token
//! (`x-access-token`, or handed back in-band) or a paid L402 credential. Each admits a bounded
//! number of requests, counted in the isolate and reported to the credential's counter.

use gatehouse_core::bytes::to_hex;
use gatehouse_core::config::Config;
use gatehouse_core::denial::Denial;
use gatehouse_core::l402::credential::{parse_authorization, verify};
use gatehouse_core::ratelimit::token_headers;
use gatehouse_core::token::{self, TokenRejection};
use worker::{Context, Env};

use crate::request_facts::RequestFacts;
use crate::{quota_do, revocation, token_usage};

pub type Headers = Vec<(&'static str, String)>;

/// What admitted a request, for the response headers and the audit trail.
pub struct Admitted {
    pub headers: Headers,
    pub remaining: u32,
    pub by: &'static str,
    /// A reduced grant admits only these tools.
    pub tools: Option<Vec<String>>,
}

/// `Some(headers)` when the token admits this request, `None` when its grant is spent.
pub async fn admit_token(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    facts: &RequestFacts,
    token: &str,
    now_ms: u64,
) -> Result<Option<Admitted>, Denial> {
    let claims = token::check(
        &cfg.token,
        token,
        &facts.audience,
        &facts.binding_hash(cfg),
        now_ms / 1_000,
    )
    .map_err(Denial::InvalidToken)?;
    if revocation::is_revoked(env, ctx, &claims.jti, now_ms).await? {
        return Err(Denial::InvalidToken(TokenRejection::Revoked));
    }
    let tools = claims.tools.clone();
    Ok(spend(
        env,
        ctx,
        &claims.jti,
        claims.grant,
        claims.exp,
        claims.exp - claims.iat,
        now_ms,
        "token",
    )
    .map(|a| Admitted { tools, ..a }))
}

/// The same for a paid L402 credential. `Authorization` in any other scheme is not ours to judge
/// (it is stripped before the origin all the same).
pub async fn admit_l402(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    authorization: &str,
    now_ms: u64,
) -> Result<Option<Admitted>, Denial> {
    let (Some(l402), Some(parsed)) = (&cfg.l402, parse_authorization(authorization)) else {
        return Ok(None);
    };
    let verified = parsed
        .and_then(|cred| verify(&l402.settings, &cred, now_ms / 1_000))
        .map_err(Denial::InvalidL402)?;
    let jti = format!("l402:{}", to_hex(&verified.token_id));
    if revocation::is_revoked(env, ctx, &jti, now_ms).await? {
        return Err(Denial::InvalidToken(TokenRejection::Revoked));
    }
    let lifetime = verified.valid_until_s.saturating_sub(now_ms / 1_000);
    Ok(spend(
        env,
        ctx,
        &jti,
        cfg.token.grant,
        verified.valid_until_s,
        lifetime,
        now_ms,
        "l402",
    ))
}

/// Takes one use of a credential's grant, reporting uses to its counter in the background.
#[allow(clippy::too_many_arguments)]
fn spend(
    env: &Env,
    ctx: &Context,
    jti: &str,
    grant: u32,
    expires_at_s: u64,
    lifetime_s: u64,
    now_ms: u64,
    by: &'static str,
) -> Option<Admitted> {
    let expires_at_ms = expires_at_s * 1_000;
    let taken = token_usage::try_take(jti, grant, expires_at_ms, now_ms)?;
    if let Some(count) = taken.report {
        let (env, jti) = (env.clone(), jti.to_string());
        ctx.wait_until(async move {
            if let Ok(total) = quota_do::spend_token(&env, &jti, count, expires_at_ms).await {
                token_usage::observe_total(&jti, total);
            }
        });
    }
    let left = expires_at_s.saturating_sub(now_ms / 1_000);
    Some(Admitted {
        headers: token_headers(grant, taken.used, lifetime_s, left).to_vec(),
        remaining: grant.saturating_sub(taken.used),
        by,
        tools: None,
    })
}
