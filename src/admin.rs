//! The admin API, behind `Authorization: Bearer <ADMIN_SECRET>` (compared in constant time).
//! `POST /admin/api/revoke` takes `{"jti"}` or `{"token"}` and revokes that access token.

use gatehouse_core::bytes::ct_eq;
use gatehouse_core::config::Config;
use gatehouse_core::denial::{Denial, Dependency};
use gatehouse_core::jwt;
use gatehouse_core::token::AccessClaims;
use serde::Deserialize;
use serde_json::json;
use worker::{console_log, Env, Method, Request, Response};

use crate::{audit_log, body, respond, revocation};

const MAX_ADMIN_BODY: usize = 8_192;

pub async fn handle(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let secret = cfg.admin_secret.as_deref().ok_or(Denial::AdminDisabled)?;
    let presented = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let presented = presented.strip_prefix("Bearer ").unwrap_or("");
    if !ct_eq(presented.as_bytes(), secret.as_bytes()) {
        return Err(Denial::AdminUnauthorized);
    }
    match (req.method(), req.path().as_str()) {
        (Method::Post, "/admin/api/revoke") => {
            let raw = body::read_capped(&mut req, MAX_ADMIN_BODY).await?;
            revoke(env, cfg, &raw, now_ms).await
        }
        (_, "/admin/api/revoke") => Err(Denial::MethodNotAllowed { allow: "POST" }),
        (Method::Get, "/admin/api/audit") => audit(&req, env).await,
        (Method::Get, "/admin/api/health") => respond::json(
            200,
            &json!({ "audit_write_failures": audit_log::failures() }),
        )
        .map_err(|_| Denial::Internal),
        _ => Err(Denial::NotFound),
    }
}

#[derive(Deserialize)]
struct RevokeBody {
    jti: Option<String>,
    token: Option<String>,
    reason: Option<String>,
}

async fn revoke(env: &Env, cfg: &Config, raw: &[u8], now_ms: u64) -> Result<Response, Denial> {
    let body: RevokeBody = serde_json::from_slice(raw)
        .map_err(|_| Denial::InvalidRequest("body must be {\"jti\"} or {\"token\"}"))?;
    let (jti, expires_at_ms) = match (body.jti, body.token) {
        (Some(jti), None) if is_jti(&jti) => (jti, now_ms + u64::from(cfg.token.ttl_s) * 1_000),
        (None, Some(token)) => {
            // Any token this gateway signed, expired or not, bound to anyone: only its id matters.
            let claims: AccessClaims = jwt::verify(&token, &cfg.token.keys)
                .map_err(|_| Denial::InvalidRequest("token is not one this gateway signed"))?;
            (claims.jti, claims.exp * 1_000)
        }
        _ => {
            return Err(Denial::InvalidRequest(
                "body must be {\"jti\"} or {\"token\"}",
            ))
        }
    };
    let reason = body
        .reason
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>();
    revocation::revoke(env, &jti, expires_at_ms, now_ms, &reason)
        .await
        .map_err(|_| Denial::DependencyUnavailable(Dependency::RevocationStore))?;
    console_log!(
        "{}",
        json!({ "event": "token_revoked", "jti": jti, "reason": reason })
    );
    respond::json(
        200,
        &json!({ "revoked": jti, "expires_at": expires_at_ms / 1_000 }),
    )
    .map_err(|_| Denial::Internal)
}

/// An access token's id (32 hex digits), or an L402 credential's (`l402:` and 64 hex digits).
fn is_jti(jti: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    hex(jti, 32) || jti.strip_prefix("l402:").is_some_and(|t| hex(t, 64))
}

/// `GET /admin/api/audit?identity=&name=&since=&until=&limit=` (times in Unix ms), newest first.
async fn audit(req: &Request, env: &Env) -> Result<Response, Denial> {
    let filter: audit_log::Filter = req
        .query()
        .map_err(|_| Denial::InvalidRequest("query must be identity, name, since, until, limit"))?;
    let records = audit_log::query(env, &filter)
        .await
        .map_err(|_| Denial::DependencyUnavailable(Dependency::ChallengeStore))?;
    respond::json(200, &json!({ "records": records })).map_err(|_| Denial::Internal)
}
