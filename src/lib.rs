//! Gatehouse: the Worker shell. It reads the clock once per request, routes, and does the I/O
//! (Durable Objects, D1, the origin) that the pure decisions in `gatehouse-core` call for.
//! Every handler answers with a response or a `Denial`; nothing here returns an `Err` to the
//! runtime, which would surface as a bare 500.

mod admin;
mod admin_keys;
mod admin_ops;
mod admission;
mod audit_log;
mod body;
mod caller;
mod challenge_store;
mod config_load;
mod cron;
mod gate;
mod identity;
mod invoice;
mod metrics_sink;
mod oauth_keys;
mod oauth_routes;
mod offers;
mod operations;
mod outbound;
mod proxy;
mod quota_do;
mod random;
mod request_facts;
mod respond;
mod revocation;
mod token_usage;
mod trail;
mod verify;
mod webcrypto;

use gatehouse_core::denial::Denial;
use worker::{
    event, Context, Date, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

pub use quota_do::GateCounter;

pub use gatehouse_core::challenge::VERIFY_PATH;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let now_ms = Date::now().as_millis();
    let Some(cfg) = config_load::config(&env) else {
        return respond::denial(&Denial::Misconfigured);
    };
    let path = req.path();
    let outcome = match path.as_str() {
        VERIFY_PATH if req.method() == Method::Post => {
            verify::handle(req, &env, &ctx, &cfg, now_ms).await
        }
        VERIFY_PATH => Err(Denial::MethodNotAllowed { allow: "POST" }),
        p if p == "/admin" || p.starts_with("/admin/") => {
            admin::handle(req, &env, &ctx, &cfg, now_ms).await
        }
        p if oauth_routes::is_discovery(p) && cfg.oauth.is_some() => {
            oauth_routes::handle(p, &cfg, now_ms).await
        }
        _ => gate::handle(req, &env, &ctx, &cfg, now_ms).await,
    };
    let controller = cfg.adaptive.enabled.then(|| {
        let pow = operations::cached_runtime_policy().pow(&cfg);
        metrics_sink::ControllerCall {
            min: pow.min_bits,
            base: pow.base_bits,
            max: pow.max_bits,
            target_ms: cfg.adaptive.target_solve_ms,
            interval_ms: u64::from(cfg.adaptive.interval_s) * 1_000,
        }
    });
    metrics_sink::maybe_flush(&env, &ctx, now_ms, controller);
    match outcome {
        Ok(response) => Ok(response),
        Err(denial) => {
            respond::log_denial(&path, &denial);
            respond::denial(&denial)
        }
    }
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let retention = config_load::config(&env).map(|c| c.audit.retention_days);
    cron::purge(&env, Date::now().as_millis(), retention).await;
}
