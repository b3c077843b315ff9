//! Gatehouse: the Worker shell. It reads the clock once per request, routes, and does the I/O
//! (Durable Objects, D1, the origin) that the pure decisions in `gatehouse-core` call for.
//! Every handler answers with a response or a `Denial`; nothing here returns an `Err` to the
//! runtime, which would surface as a bare 500.

mod lane;
mod objects;
mod platform;
mod routes;
mod stores;

use platform::reply::Reply;
use platform::{config, respond};
#[cfg(feature = "store-contract")]
use routes::store_contract;
use routes::{admin, discovery, gate, purge, redeem};

use gatehouse_core::rails::challenge::VERIFY_PATH;
use gatehouse_core::wire::denial::Denial;
use wasm_bindgen::prelude::*;
use worker::{
    event, web_sys, Context, Date, Env, Method, Request, Result, ScheduleContext, ScheduledEvent,
};

pub use objects::client_counter::GateCounter;
pub use objects::credential_counter::CredentialCounter;
pub use objects::metrics::MetricsObject;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    serve(req, env, ctx, None).await
}

/// The async path for a request whose body the module entry already read (the quick lane's
/// `Slow`): only the gate takes a body read in advance, and the entry reads none for the
/// gateway's own endpoints.
#[wasm_bindgen]
pub fn gate_read(
    req: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
    body: Vec<u8>,
) -> worker::js_sys::Promise {
    worker::wasm_bindgen_futures::future_to_promise(async move {
        serve(Request::from(req), env, Context::new(ctx), Some(body))
            .await
            .map(JsValue::from)
            .map_err(JsValue::from)
    })
}

async fn serve(
    req: Request,
    env: Env,
    ctx: Context,
    pre_read: Option<Vec<u8>>,
) -> Result<web_sys::Response> {
    let now_ms = worker::js_sys::Date::now() as u64;
    let Some(cfg) = config::config(&env) else {
        return respond::denial(&Denial::Misconfigured).map(Into::into);
    };
    let path = req.path();
    let outcome = match path.as_str() {
        VERIFY_PATH if req.method() == Method::Post => {
            redeem::handle(req, &env, &ctx, &cfg, now_ms)
                .await
                .map(Reply::from)
        }
        VERIFY_PATH => Err(Denial::MethodNotAllowed { allow: "POST" }),
        #[cfg(feature = "store-contract")]
        store_contract::PATH if store_contract::enabled(&env, &cfg) => {
            store_contract::handle(&env).await.map(Reply::from)
        }
        p if p == "/admin" || p.starts_with("/admin/") => {
            admin::handle(req, &env, &ctx, &cfg, now_ms)
                .await
                .map(Reply::from)
        }
        p if discovery::is_discovery(p) && cfg.oauth.is_some() => {
            discovery::handle(p, &cfg, now_ms).await.map(Reply::from)
        }
        _ => gate::handle(req, &env, &ctx, &cfg, now_ms, pre_read).await,
    };
    gate::trail::ship_metrics(&env, &ctx, &cfg, now_ms);
    match outcome {
        Ok(reply) => Ok(reply.into_raw()),
        Err(denial) => {
            respond::log_denial(&path, &denial);
            respond::denial(&denial).map(Into::into)
        }
    }
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let retention = config::config(&env).map(|c| c.audit.retention_days);
    purge::purge(&env, Date::now().as_millis(), retention).await;
}
