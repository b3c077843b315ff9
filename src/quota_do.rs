//! `GateCounter`, the Durable Object that keeps one counter per name, and the client calls the
//! Worker makes to it. Two kinds of name:
//! - `quota:<client key>` holds the sliding-window counts of `gatehouse_core::quota`;
//! - `token:<jti>` holds how many requests a token has been used for.
//!
//! Each handler is read → decide → write with only storage operations in between. The runtime's
//! input gate holds back every other event for this object while a storage operation is in
//! flight, and the output gate holds the reply until the write is durable, so no two requests to
//! one counter can interleave and no reply reports a count that could be lost.

use std::cell::RefCell;

use gatehouse_core::denial::{Denial, Dependency};
use gatehouse_core::quota::{decide, Decision, Policy, QuotaState};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, wasm_bindgen::JsValue, DurableObject, Env, Method, Request, RequestInit,
    Response, Result, ScheduledTime, State,
};

pub const BINDING: &str = "COUNTERS";
const QUOTA_KEY: &str = "quota";
const USED_KEY: &str = "used";
/// How long an idle counter lingers past its last use before its alarm deletes it.
const LINGER_MS: u64 = 60_000;

#[derive(Serialize, Deserialize)]
struct QuotaCall {
    policy: Policy,
    cost: u32,
    now_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct SpendCall {
    cost: u32,
    /// When the token expires; the counter is deleted a little after.
    expires_at_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub struct Spent {
    pub used: u32,
}

#[durable_object]
pub struct GateCounter {
    state: State,
    quota: RefCell<Option<QuotaState>>,
}

impl DurableObject for GateCounter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            quota: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/quota" => {
                let call: QuotaCall = req.json().await?;
                Response::from_json(&self.quota(call).await?)
            }
            "/spend" => {
                let call: SpendCall = req.json().await?;
                Response::from_json(&self.spend(call).await?)
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // Every admission pushes the alarm out, so firing means the counter is idle and dead.
        self.state.storage().delete_all().await?;
        *self.quota.borrow_mut() = None;
        Response::empty()
    }
}

impl GateCounter {
    async fn quota(&self, call: QuotaCall) -> Result<Decision> {
        let storage = self.state.storage();
        let cached = self.quota.borrow().clone();
        let current = match cached {
            Some(state) => state,
            None => storage
                .get::<QuotaState>(QUOTA_KEY)
                .await?
                .unwrap_or_default(),
        };
        let (next, decision) = decide(&call.policy, &current, call.cost, call.now_ms);
        if decision.allowed {
            storage.put(QUOTA_KEY, &next).await?;
            let longest = call
                .policy
                .windows()
                .iter()
                .map(|w| u64::from(w.seconds) * 1_000)
                .max()
                .unwrap_or(0);
            storage
                .set_alarm(alarm_time(call.now_ms + longest + LINGER_MS))
                .await?;
        }
        *self.quota.borrow_mut() = Some(next);
        Ok(decision)
    }

    async fn spend(&self, call: SpendCall) -> Result<Spent> {
        let storage = self.state.storage();
        let used = storage
            .get::<u32>(USED_KEY)
            .await?
            .unwrap_or(0)
            .saturating_add(call.cost);
        storage.put(USED_KEY, used).await?;
        storage
            .set_alarm(alarm_time(call.expires_at_ms + LINGER_MS))
            .await?;
        Ok(Spent { used })
    }
}

fn alarm_time(at_ms: u64) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&JsValue::from_f64(at_ms as f64)))
}

async fn call<T: Serialize, R: for<'de> Deserialize<'de>>(
    env: &Env,
    name: &str,
    path: &str,
    body: &T,
) -> Result<R> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(body)?)));
    let req = Request::new_with_init(&format!("https://counter{path}"), &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "counter answered {}",
            resp.status_code()
        )));
    }
    resp.json().await
}

fn unavailable(e: worker::Error) -> Denial {
    worker::console_error!(
        "{{\"event\":\"dependency_failed\",\"dependency\":\"quota_store\",\"error\":{:?}}}",
        e.to_string()
    );
    Denial::DependencyUnavailable(Dependency::QuotaStore)
}

/// Asks the client key's counter whether `cost` more requests fit the policy.
pub async fn check_quota(
    env: &Env,
    client_key: &str,
    policy: &Policy,
    cost: u32,
    now_ms: u64,
) -> std::result::Result<Decision, Denial> {
    let body = QuotaCall {
        policy: policy.clone(),
        cost,
        now_ms,
    };
    call(env, &format!("quota:{client_key}"), "/quota", &body)
        .await
        .map_err(unavailable)
}

/// Counts `cost` uses of a token and returns the total so far.
pub async fn spend_token(
    env: &Env,
    jti: &str,
    cost: u32,
    expires_at_ms: u64,
) -> std::result::Result<u32, Denial> {
    let body = SpendCall {
        cost,
        expires_at_ms,
    };
    call::<_, Spent>(env, &format!("token:{jti}"), "/spend", &body)
        .await
        .map(|s| s.used)
        .map_err(unavailable)
}
