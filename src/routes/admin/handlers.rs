//! The operational half of the admin API: metrics, client tiers, runtime policy, and the
//! dashboard page. Every change made here is itself written to the audit trail.

use gatehouse_core::audit::Record;
use gatehouse_core::config::Config;
use gatehouse_core::policy::runtime::RuntimePolicy;
use gatehouse_core::wire::denial::{Denial, Dependency};
use gatehouse_core::wire::json_object::object;
use serde_json::{json, Value};
use worker::{Context, Env, Request, Response};

use crate::objects::metrics_sink;
use crate::platform::respond;
use crate::stores::audit;
use crate::stores::runtime::{self, TierRow};

const DASHBOARD: &str = include_str!("dashboard.html");

fn ok(body: &Value) -> Result<Response, Denial> {
    respond::json(200, body).map_err(|_| Denial::Internal)
}

pub fn dashboard() -> Result<Response, Denial> {
    let headers = Response::from_html(DASHBOARD).map_err(|_| Denial::Internal)?;
    // The page is self-contained: scripts and styles inline, no network but this gateway's API,
    // no form posting anywhere. `admin::handle` adds `frame-ancestors 'none'` to this.
    let csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";
    let mut resp = headers;
    let h = resp.headers_mut();
    h.set("content-security-policy", csp)
        .map_err(|_| Denial::Internal)?;
    h.set("cache-control", "no-store")
        .map_err(|_| Denial::Internal)?;
    Ok(resp)
}

pub async fn stats(
    req: &Request,
    env: &Env,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let (since, until) = super::query(req)
        .and_then(|q| Ok((q.parsed::<u64>("since")?, q.parsed::<u64>("until")?)))
        .map_err(|_| Denial::InvalidRequest("query must be since and until, in Unix ms"))?;
    if matches!((since, until), (Some(s), Some(u)) if s > u) {
        return Err(Denial::InvalidRequest("since must not be after until"));
    }
    // This isolate's pending events first, so the figures include what it has just seen.
    metrics_sink::flush_now(env, now_ms).await;
    let mut body = metrics_sink::stats(
        env,
        since.unwrap_or(now_ms.saturating_sub(3_600_000)),
        until.unwrap_or(now_ms),
    )
    .await
    .map_err(|_| Denial::DependencyUnavailable(Dependency::QuotaStore))?;
    let runtime = runtime::runtime_policy(env, now_ms).await?;
    // What a new client is served now: the controller's choice within the runtime bounds, or the
    // base when the controller is off (a repeat offender's escalation comes on top, and shows in
    // `difficulty_served`).
    let pow = runtime.pow(cfg);
    let adaptive = body["adaptive_bits"].as_u64().map(|b| b as u8);
    let served = match adaptive {
        Some(bits) if cfg.adaptive.enabled => {
            bits.clamp(pow.base_bits, pow.max_bits.max(pow.base_bits))
        }
        _ => pow.base_bits,
    };
    body["current_difficulty"] = served.into();
    body["audit"] = object([
        ("rows_dropped", audit::dropped().into()),
        ("write_failures", audit::failures().into()),
    ]);
    ok(&body)
}

pub async fn tiers(env: &Env) -> Result<Response, Denial> {
    ok(&object([("tiers", json!(runtime::list_tiers(env).await?))]))
}

pub async fn set_tier(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    raw: &[u8],
    now_ms: u64,
) -> Result<Response, Denial> {
    let row: TierRow = serde_json::from_slice(raw)
        .map_err(|_| Denial::InvalidRequest("body must be {\"client_id\", \"tier\"}"))?;
    let known = cfg
        .oauth
        .as_ref()
        .is_some_and(|o| o.tiers.iter().any(|t| t.name == row.tier));
    if row.client_id.is_empty() || row.client_id.len() > 256 || !known {
        return Err(Denial::InvalidRequest(
            "tier must be one of OAUTH_TIERS, client_id 1-256 characters",
        ));
    }
    runtime::set_tier(env, &row, now_ms).await?;
    audit_change(
        env,
        ctx,
        "admin/tiers",
        &row.client_id,
        object([("tier", row.tier.as_str().into())]),
        now_ms,
    );
    ok(&object([
        ("client_id", row.client_id.into()),
        ("tier", row.tier.into()),
    ]))
}

fn effective(cfg: &Config, runtime: &RuntimePolicy) -> Value {
    let pow = runtime.pow(cfg);
    let offers: Vec<&str> = match runtime.offers() {
        Some(kinds) => kinds.iter().map(|k| k.as_str()).collect(),
        None => vec![],
    };
    let offers = if offers.is_empty() {
        Value::Null
    } else {
        offers.into()
    };
    object([
        ("pow_min_bits", pow.min_bits.into()),
        ("pow_base_bits", pow.base_bits.into()),
        ("pow_max_bits", pow.max_bits.into()),
        ("offers", offers),
        ("overrides", json!(runtime)),
    ])
}

pub async fn policy(env: &Env, cfg: &Config, now_ms: u64) -> Result<Response, Denial> {
    ok(&effective(
        cfg,
        &runtime::runtime_policy(env, now_ms).await?,
    ))
}

pub async fn set_policy(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    raw: &[u8],
    now_ms: u64,
) -> Result<Response, Denial> {
    let update: RuntimePolicy = serde_json::from_slice(raw).map_err(|_| {
        Denial::InvalidRequest(
            "body must be {pow_min_bits, pow_base_bits, pow_max_bits, offers}, each optional",
        )
    })?;
    let current = runtime::runtime_policy(env, now_ms).await?;
    let next = current
        .updated(&update, cfg)
        .map_err(Denial::InvalidPolicy)?;
    runtime::save_policy(env, &next, now_ms).await?;
    // Denials remembered with the old offers must not outlive the change in this isolate (other
    // isolates pick it up within the policy cache's TTL, longer than their memory of a denial).
    crate::routes::gate::memo::clear();
    audit_change(env, ctx, "admin/policy", "update", json!(update), now_ms);
    ok(&effective(cfg, &next))
}

fn audit_change(env: &Env, ctx: &Context, method: &str, name: &str, arguments: Value, now_ms: u64) {
    let record = Record {
        ts: now_ms,
        route: "admin".into(),
        identity: "admin".into(),
        admitted_by: Some("admin_secret".into()),
        method: method.into(),
        name: Some(name.into()),
        arguments: arguments.to_string(),
        status: 200,
        ..Record::default()
    };
    audit::write_exempt(env, ctx, vec![record], now_ms);
}
