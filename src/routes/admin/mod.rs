//! The admin API and dashboard, behind the `ADMIN_SECRET` (compared in constant time), sent as
//! `Authorization: Bearer <secret>`, or as the password of HTTP Basic so that a browser can open
//! the dashboard at `/admin`.
//!
//! - `POST /admin/api/revoke` `{"jti"}` or `{"token"}`: revoke an access token;
//! - `POST /admin/api/keys`, `POST /admin/api/keys/revoke`: mint and revoke API keys
//!   (`admin_keys.rs`);
//! - `GET /admin/api/audit`: the audit trail; `GET /admin/api/health`: audit write failures;
//! - `GET /admin/api/stats?since=&until=`: metrics over a time range (Unix ms, default the last
//!   hour);
//! - `GET|PUT /admin/api/tiers`: client tiers; `GET|PUT /admin/api/policy`: runtime policy.
//!
//! Before the secret is even looked at, `gatehouse_core::admin_guard` refuses a state-changing
//! request that a page on another site could have made a browser send (cross-site request
//! forgery riding on cached Basic credentials); and every answer, refusals included, forbids
//! framing.

pub mod handlers;
pub mod keys;
mod throttle;

use base64::Engine;
use gatehouse_core::admin_guard::{self, AdminRequest};
use gatehouse_core::config::Config;
use gatehouse_core::credentials::api_key::{ADMIN_KEYS_PATH, ADMIN_KEYS_REVOKE_PATH};
use gatehouse_core::credentials::jwt;
use gatehouse_core::credentials::revocation::{kept_until_ms, Revoked};
use gatehouse_core::credentials::token::AccessClaims;
use gatehouse_core::wire::bytes::ct_eq;
use gatehouse_core::wire::denial::{Denial, Dependency};
use gatehouse_core::wire::json_object::object;
use gatehouse_core::wire::query::{Query, QueryError};
use gatehouse_core::wire::request_url;
use serde::Deserialize;
use worker::{console_log, Context, Env, Method, Request, Response};

use crate::platform::body;
use crate::platform::respond;
use crate::routes::gate::facts::RequestFacts;
use crate::stores::audit;
use crate::stores::revocation;

const MAX_ADMIN_BODY: usize = 8_192;

/// Whether `authorization` carries the admin secret, as a bearer token or a Basic password.
fn authorized(authorization: &str, secret: &str) -> bool {
    let presented = if let Some(token) = authorization.strip_prefix("Bearer ") {
        token.trim().to_string()
    } else if let Some(basic) = authorization.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .unwrap_or_default();
        let text = String::from_utf8(decoded).unwrap_or_default();
        text.split_once(':')
            .map(|(_, password)| password.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    ct_eq(presented.as_bytes(), secret.as_bytes())
}

/// Every admin and dashboard answer, refusals included, carrying the headers that forbid framing.
pub async fn handle(
    req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let path = req.path();
    let response = match route(req, env, ctx, cfg, now_ms).await {
        Ok(response) => response,
        Err(denial) => {
            respond::log_denial(&path, &denial);
            respond::denial(&denial).map_err(|_| Denial::Internal)?
        }
    };
    unframeable(response).map_err(|_| Denial::Internal)
}

fn unframeable(mut response: Response) -> worker::Result<Response> {
    let existing = response.headers().get("content-security-policy")?;
    let headers = response.headers_mut();
    headers.set(
        "content-security-policy",
        &admin_guard::with_frame_ancestors_none(existing.as_deref()),
    )?;
    let (name, value) = admin_guard::X_FRAME_OPTIONS;
    headers.set(name, value)?;
    Ok(response)
}

/// The guard's view of the request: its method, body type, the browser's word on where it came
/// from, and the gateway's own origin as this request addressed it.
fn guard(req: &Request) -> Result<(), Denial> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let url = req.inner().url();
    let own_origin = request_url::split(&url)
        .filter(|p| !p.origin.is_empty())
        .ok_or(Denial::Internal)?
        .origin;
    let (content_type, sec_fetch_site, origin) = (
        header("content-type"),
        header("sec-fetch-site"),
        header("origin"),
    );
    admin_guard::check(&AdminRequest {
        method: req.method().as_ref(),
        content_type: content_type.as_deref(),
        sec_fetch_site: sec_fetch_site.as_deref(),
        origin: origin.as_deref(),
        own_origin,
    })
    .map_err(Denial::from)
}

async fn route(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    guard(&req)?;
    let secret = cfg.admin_secret.as_deref().ok_or(Denial::AdminDisabled)?;
    let authorization = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let path = req.path();
    let address = RequestFacts::read(&req, cfg).address_key;
    if authorization.is_empty() {
        // Nothing presented (a browser's first visit, before it asks for the password): not a
        // guess, so not counted.
        return Err(Denial::AdminUnauthorized);
    }
    if !authorized(&authorization, secret) {
        return Err(throttle::failed(env, ctx, &address, &path, now_ms).await);
    }
    if let Err(throttled) = throttle::admit(env, &address, now_ms).await {
        throttle::audit_refusal(env, ctx, &address, &path, 429, now_ms);
        return Err(throttled);
    }
    match (req.method(), path.as_str()) {
        (Method::Get, "/admin" | "/admin/") => handlers::dashboard(),
        (Method::Post, "/admin/api/revoke") => {
            let raw = body::read_capped(&mut req, MAX_ADMIN_BODY).await?;
            revoke(env, cfg, &raw, now_ms).await
        }
        (Method::Post, ADMIN_KEYS_PATH) => {
            let raw = body::read_capped(&mut req, MAX_ADMIN_BODY).await?;
            keys::mint(cfg, &raw, now_ms)
        }
        (Method::Post, ADMIN_KEYS_REVOKE_PATH) => {
            let raw = body::read_capped(&mut req, MAX_ADMIN_BODY).await?;
            keys::revoke(env, cfg, &raw, now_ms).await
        }
        (Method::Get, "/admin/api/audit") => audit(&req, env, now_ms).await,
        (Method::Get, "/admin/api/health") => respond::json(
            200,
            &object([("audit_write_failures", audit::failures().into())]),
        )
        .map_err(|_| Denial::Internal),
        (Method::Get, "/admin/api/stats") => handlers::stats(&req, env, cfg, now_ms).await,
        (Method::Get, "/admin/api/tiers") => handlers::tiers(env).await,
        (Method::Put, "/admin/api/tiers") => {
            let raw = body::read_capped(&mut req, MAX_ADMIN_BODY).await?;
            handlers::set_tier(env, ctx, cfg, &raw, now_ms).await
        }
        (Method::Get, "/admin/api/policy") => handlers::policy(env, cfg, now_ms).await,
        (Method::Put, "/admin/api/policy") => {
            let raw = body::read_capped(&mut req, MAX_ADMIN_BODY).await?;
            handlers::set_policy(env, ctx, cfg, &raw, now_ms).await
        }
        (_, "/admin/api/revoke") => Err(Denial::MethodNotAllowed { allow: "POST" }),
        (_, "/admin/api/tiers" | "/admin/api/policy") => {
            Err(Denial::MethodNotAllowed { allow: "GET, PUT" })
        }
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
        (Some(jti), None) => match Revoked::of_jti(&jti) {
            // As long as the longest credential of its kind can still verify.
            Some(kind) => {
                let until = kept_until_ms(kind, cfg.lifetimes(), now_ms);
                (jti, until)
            }
            None => {
                return Err(Denial::InvalidRequest(
                    "jti is not an access token's or an L402 credential's id",
                ))
            }
        },
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
        object([
            ("event", "token_revoked".into()),
            ("jti", jti.as_str().into()),
            ("reason", reason.as_str().into()),
        ])
    );
    respond::json(
        200,
        &object([
            ("revoked", jti.into()),
            ("expires_at", (expires_at_ms / 1_000).into()),
        ]),
    )
    .map_err(|_| Denial::Internal)
}

/// The request's query, decoded; `Err` only for a URL the runtime would not have sent.
pub(crate) fn query(req: &Request) -> Result<Query, QueryError> {
    request_url::split(&req.inner().url())
        .map(|parts| Query::parse(parts.query))
        .ok_or(QueryError::Invalid("url".into()))
}

/// `GET /admin/api/audit?identity=&name=&since=&until=&limit=` (times in Unix ms), newest first.
async fn audit(req: &Request, env: &Env, now_ms: u64) -> Result<Response, Denial> {
    // This isolate's queued rows first, so the trail includes what it has just seen.
    audit::flush_now(env, now_ms).await;
    let filter = query(req)
        .and_then(|q| {
            Ok(audit::Filter {
                identity: q.text("identity")?.map(str::to_string),
                name: q.text("name")?.map(str::to_string),
                since: q.parsed("since")?,
                until: q.parsed("until")?,
                limit: q.parsed("limit")?,
            })
        })
        .map_err(|_| Denial::InvalidRequest("query must be identity, name, since, until, limit"))?;
    let records = audit::query(env, &filter)
        .await
        .map_err(|_| Denial::DependencyUnavailable(Dependency::ChallengeStore))?;
    respond::json(200, &object([("records", records.into())])).map_err(|_| Denial::Internal)
}
