//! The quick lane's bindings: what the module entry (`src/entry.mjs`) calls for a POST it may
//! take itself, around the gate's synchronous steps (`routes::gate::quick`). Values cross as
//! single strings of lines (no header name, value or URL holds a line feed), one call each way:
//!
//! - [`quick_names`], once per isolate: the body cap, the gateway's own endpoints (whose bodies
//!   the entry never reads), the fixed list of names dropped toward the origin, and the answers
//!   when the Wasm fails under a request;
//! - [`quick_plan`]: the request's URL, headers and body in; out, what the entry does with it:
//!   send it on (`id`, origin URL, deadline, the header work; with the body when something was
//!   cut from it), answer a refusal, or hand it to the async path (`gate_read` in `lib.rs`);
//! - [`quick_done`]: the origin's answer (or its failure) in; out, the client's answer, relayed
//!   as the async path relays it, or a refusal.

use gatehouse_core::mcp::MAX_POLICY_BODY;
use gatehouse_core::rails::challenge::VERIFY_PATH;
use gatehouse_core::wire::denial::{Denial, Dependency};
use gatehouse_core::wire::json_object::object;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use worker::{js_sys, web_sys, worker_sys, Context, Env};

use crate::platform::outbound::Failure;
use crate::platform::relay::{self, Toward};
use crate::platform::{config, respond};
use crate::routes::gate::quick::{self, Planned, Reached, Seen};
use crate::routes::gate::trail::ship_metrics;

/// The body cap, the gateway's own endpoints, the names dropped toward the origin, and, as one
/// line of JSON, the answers to a request the Wasm fails under, one per line. The entry takes
/// them once, when its module loads: the last are for when no call into the Wasm can be made.
#[wasm_bindgen]
pub fn quick_names() -> String {
    #[allow(unused_mut)]
    let mut own = vec![VERIFY_PATH, "/admin"];
    #[cfg(feature = "store-contract")]
    own.push(crate::routes::store_contract::PATH);
    let (origin, _) = relay::fixed_names();
    // `before`: an instance found dead before the request was sent on (a failed reset, or no
    // fresh instance scheduled), so any failed dependency's 503 with `Retry-After`. `after`:
    // anything else, the request's own panic or a failure after the origin may have acted on
    // it, so a 500 with none, which no client kit retries (the same input may fail again; a
    // retry could run the call twice).
    let failed = object([
        (
            "before",
            answer(&Denial::DependencyUnavailable(Dependency::Instance)),
        ),
        ("after", answer(&Denial::Internal)),
    ]);
    format!("{MAX_POLICY_BODY}\n{}\n{origin}\n{failed}", own.join(","))
}

/// A refusal as the entry builds it without the Wasm: status, header pairs, and body text.
fn answer(denial: &Denial) -> Value {
    let w = denial.to_wire();
    let headers = w
        .headers
        .iter()
        .map(|(name, value)| Value::from(vec![*name, value.as_str()]));
    object([
        ("status", w.status.into()),
        ("headers", Value::Array(headers.collect())),
        ("body", w.body.to_string().into()),
    ])
}

/// The test build's way to panic on request (tests/wasm_instance.test.mjs), under `LOCAL_DEV`
/// only, as its contract route: this request field before the plan, or this field on the
/// origin's answer before the relay.
#[cfg(feature = "store-contract")]
const TEST_PANIC: &str = "x-gatehouse-test-panic";

#[cfg(feature = "store-contract")]
fn test_panics(env: &Env) -> bool {
    config::config(env).is_some_and(|c| c.local_dev)
}

/// The plan for a request: a string (`id`, URL, deadline, `1` when the body is the one that
/// follows, the names to drop, then the values to set), or that string and the body to send in
/// an array; a `Response` for a refusal; `undefined` for the async path.
#[wasm_bindgen]
pub fn quick_plan(
    env: Env,
    ctx: worker_sys::Context,
    url: String,
    headers: &str,
    via_edge: bool,
    body: Vec<u8>,
) -> Result<JsValue, JsValue> {
    #[cfg(feature = "store-contract")]
    if headers
        .split('\n')
        .step_by(2)
        .any(|name| name == TEST_PANIC)
        && test_panics(&env)
    {
        panic!("the test build's panic before the plan");
    }
    let now_ms = js_sys::Date::now() as u64;
    let ctx = Context::new(ctx);
    let seen = Seen::new(url, headers, via_edge);
    let planned = quick::plan(&env, &ctx, &seen, body, now_ms);
    match planned {
        Planned::Slow => Ok(JsValue::UNDEFINED),
        Planned::Refused(denial) => {
            if let Some(cfg) = config::config(&env) {
                ship_metrics(&env, &ctx, &cfg, now_ms);
            }
            refusal(&denial).map(Into::into)
        }
        // The metrics ship once the request is over (`quick_done`).
        Planned::Forward(out) => {
            let head = format!(
                "{}\n{}\n{}\n{}\n{}",
                out.id,
                out.url,
                out.timeout_ms,
                u8::from(out.body.is_some()),
                lines(&out.toward)
            );
            Ok(match out.body {
                Some(body) => js_sys::Array::of2(
                    &JsValue::from_str(&head),
                    &js_sys::Uint8Array::from(&body[..]),
                )
                .into(),
                None => JsValue::from_str(&head),
            })
        }
    }
}

/// The answer for request `id`, given the origin's `response`, or its failure (`error`, or
/// neither for its deadline; `unbuilt` when the headers for the origin could not be built).
#[wasm_bindgen]
pub fn quick_done(
    env: Env,
    ctx: worker_sys::Context,
    id: u32,
    response: Option<web_sys::Response>,
    error: Option<String>,
    unbuilt: bool,
) -> Result<web_sys::Response, JsValue> {
    #[cfg(feature = "store-contract")]
    if let Some(r) = &response {
        if r.headers().has(TEST_PANIC).unwrap_or(false) && test_panics(&env) {
            panic!("the test build's panic before the relay");
        }
    }
    let ctx = Context::new(ctx);
    let reached = match (response, error) {
        _ if unbuilt => Reached::Unbuilt,
        (Some(response), _) => Reached::Answered(response),
        (None, Some(error)) => Reached::Failed(Failure::Unreachable(error)),
        (None, None) => Reached::Failed(Failure::Timeout),
    };
    // `None`: an id this isolate never handed out, or handed back twice.
    let answer = quick::done(&env, &ctx, id, reached).unwrap_or(Err(Denial::Internal));
    if let Some(cfg) = config::config(&env) {
        ship_metrics(&env, &ctx, &cfg, js_sys::Date::now() as u64);
    }
    match answer {
        Ok(reply) => Ok(reply.into_raw()),
        Err(denial) => refusal(&denial),
    }
}

/// The names to drop, then the values to set.
fn lines(t: &Toward) -> String {
    format!("{}\n{}", t.extra.as_deref().unwrap_or(""), t.set)
}

/// A refusal's answer; an exception, as on the async path, only if the runtime cannot build a
/// response at all.
fn refusal(denial: &Denial) -> Result<web_sys::Response, JsValue> {
    respond::denial(denial)
        .map(Into::into)
        .map_err(|e| JsValue::from_str(&e.to_string()))
}
