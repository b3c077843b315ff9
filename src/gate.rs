//! The gate in front of the origin. A valid credential admits with no I/O on the request path:
//! the gateway's own access token (`x-access-token`), or a paid L402 credential
//! (`Authorization: L402 <macaroon>:<preimage>`). Otherwise the client's quota decides; at
//! exhaustion, and only then, a 402 with fresh challenges (PROTOCOLS §1, §2).

use gatehouse_core::bytes::to_hex;
use gatehouse_core::config::Config;
use gatehouse_core::denial::Denial;
use gatehouse_core::l402::credential::{parse_authorization, verify};
use gatehouse_core::mcp::{calls, tool_names, MAX_POLICY_BODY};
use gatehouse_core::ratelimit::{quota_headers, token_headers};
use gatehouse_core::token::{self, TokenRejection};
use worker::{Context, Env, Method, Request, Response};

use crate::request_facts::RequestFacts;
use crate::{body, identity, offers, proxy, quota_do, revocation, token_usage, VERIFY_PATH};

pub const TOKEN_HEADER: &str = "x-access-token";

type Headers = Vec<(&'static str, String)>;

pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let mut facts = RequestFacts::read(&req, cfg);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .ok()
            .flatten()
            .filter(|v| !v.trim().is_empty())
    };
    let (token, authorization) = (header(TOKEN_HEADER), header("authorization"));
    let mut policy = cfg.quota.clone();
    let mut body = None;
    if let Some(o) = &cfg.oauth {
        let caller = identity::authenticate(
            o,
            cfg.local_dev,
            authorization.as_deref().and_then(identity::bearer),
            now_ms,
        )
        .await?;
        let tools = if o.has_tool_scopes() && req.method() == Method::Post {
            let raw = body::read_capped(&mut req, MAX_POLICY_BODY).await?;
            let names: Vec<String> = calls(&raw)
                .map(|c| tool_names(&c).into_iter().map(str::to_string).collect())
                .unwrap_or_default();
            body = Some(raw);
            names
        } else {
            Vec::new()
        };
        identity::authorize(
            o,
            caller.as_ref(),
            &tools.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        if let Some(id) = &caller {
            // One identity, one quota, wherever it calls from; its tier decides how much.
            facts.client_key = id.rate_key();
            policy = o.tier(&id.tier).policy.clone();
        }
    }
    let forward = |headers: Headers| {
        let (req, facts, body) = (&req, &facts, body.as_deref());
        async move { proxy::forward(req, facts, cfg, &headers, body).await }
    };
    if let Some(token) = token {
        if let Some(headers) = admit_token(env, ctx, cfg, &facts, &token, now_ms).await? {
            return forward(headers).await;
        }
        // A spent token falls through to the quota, like no token at all.
    } else if let Some(authorization) = authorization.filter(|_| cfg.l402.is_some()) {
        if let Some(headers) = admit_l402(env, ctx, cfg, &authorization, now_ms).await? {
            return forward(headers).await;
        }
    }
    let decision = quota_do::check_quota(env, &facts.client_key, &policy, 1, now_ms).await?;
    if decision.allowed {
        return forward(quota_headers(&policy, &decision)).await;
    }
    Err(Denial::QuotaExhausted {
        offers: offers::build(env, cfg, &facts, now_ms).await?,
        policy,
        decision,
        verify_url: format!("{}{VERIFY_PATH}", facts.audience),
    })
}

/// `Some(headers)` when the token admits this request, `None` when its grant is spent.
async fn admit_token(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    facts: &RequestFacts,
    token: &str,
    now_ms: u64,
) -> Result<Option<Headers>, Denial> {
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
    Ok(spend(
        env,
        ctx,
        &claims.jti,
        claims.grant,
        claims.exp,
        claims.exp - claims.iat,
        now_ms,
    ))
}

/// The same for a paid L402 credential. `Authorization` in any other scheme is not ours to judge
/// (it is stripped before the origin all the same).
async fn admit_l402(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    authorization: &str,
    now_ms: u64,
) -> Result<Option<Headers>, Denial> {
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
    ))
}

/// Takes one use of a credential's grant, reporting uses to its counter in the background.
fn spend(
    env: &Env,
    ctx: &Context,
    jti: &str,
    grant: u32,
    expires_at_s: u64,
    lifetime_s: u64,
    now_ms: u64,
) -> Option<Headers> {
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
    Some(token_headers(grant, taken.used, lifetime_s, left).to_vec())
}
