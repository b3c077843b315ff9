//! Metrics without a write per request: events accumulate in this isolate's `Delta` and are
//! shipped to the metrics Durable Object at most every `FLUSH_MS` (or sooner when the delta
//! grows), off the response path. The admin API flushes its own isolate before reading, so a
//! dashboard never lags what this isolate has seen.

use std::cell::RefCell;

use gatehouse_core::metrics::Delta;
use gatehouse_core::rails::controller::ControllerCall;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{console_error, Context, Delay, Env};

use crate::objects::call::{self, Binding};

const FLUSH_MS: u64 = 5_000;
const FLUSH_SIZE: usize = 200;
pub const OBJECT: &str = "global";

thread_local! {
    static PENDING: RefCell<(Delta, u64)> = RefCell::new((Delta::default(), 0));
    /// Whether a delayed flush is already on its way for what is pending.
    static SCHEDULED: RefCell<bool> = const { RefCell::new(false) };
    /// The controller's latest difficulty, as the last flush heard it.
    static ADAPTIVE: RefCell<Option<u8>> = const { RefCell::new(None) };
}

/// The adaptive difficulty, if the controller has spoken to this isolate yet.
pub fn adaptive_bits() -> Option<u8> {
    ADAPTIVE.with(|a| *a.borrow())
}

pub fn record(f: impl FnOnce(&mut Delta)) {
    PENDING.with(|p| f(&mut p.borrow_mut().0));
}

#[derive(Serialize, Deserialize)]
pub struct AddCall {
    pub delta: Delta,
    pub now_ms: u64,
    /// The adaptive controller's bounds and target, when it is on.
    pub controller: Option<ControllerCall>,
}

#[derive(Serialize, Deserialize)]
pub struct ReadCall {
    pub since_ms: u64,
    pub until_ms: u64,
}

fn take(now_ms: u64, force: bool) -> Option<Delta> {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let due = force || now_ms.saturating_sub(p.1) >= FLUSH_MS || p.0.size() >= FLUSH_SIZE;
        if !due || p.0.is_empty() {
            return None;
        }
        p.1 = now_ms;
        Some(std::mem::take(&mut p.0))
    })
}

async fn ship(env: &Env, delta: Delta, now_ms: u64, controller: Option<ControllerCall>) {
    let add = AddCall {
        delta,
        now_ms,
        controller,
    };
    match call::call::<_, Value>(env, Binding::Metrics, OBJECT, "/add", &add).await {
        Ok(reply) => {
            if let Some(bits) = reply.get("difficulty").and_then(Value::as_u64) {
                ADAPTIVE.with(|a| *a.borrow_mut() = Some(bits as u8));
            }
        }
        Err(e) => console_error!(
            "{{\"event\":\"metrics_flush_failed\",\"error\":{:?}}}",
            format!("{e:?}")
        ),
    }
}

/// Ships the pending delta in the background if it is due.
pub fn maybe_flush(env: &Env, ctx: &Context, now_ms: u64, controller: Option<ControllerCall>) {
    if let Some(delta) = take(now_ms, false) {
        let env = env.clone();
        ctx.wait_until(async move { ship(&env, delta, now_ms, controller).await });
        return;
    }
    // Events that arrived just after a flush get a later one of their own, so an isolate that
    // goes quiet still reports them.
    let pending = PENDING.with(|p| !p.borrow().0.is_empty());
    if pending && !SCHEDULED.with(|s| s.replace(true)) {
        let env = env.clone();
        ctx.wait_until(async move {
            Delay::from(std::time::Duration::from_millis(FLUSH_MS)).await;
            SCHEDULED.with(|s| *s.borrow_mut() = false);
            if let Some(delta) = take(now_ms + FLUSH_MS, true) {
                ship(&env, delta, now_ms + FLUSH_MS, controller).await;
            }
        });
    }
}

/// Ships whatever is pending, now.
pub async fn flush_now(env: &Env, now_ms: u64) {
    if let Some(delta) = take(now_ms, true) {
        ship(env, delta, now_ms, None).await;
    }
}

pub async fn stats(env: &Env, since_ms: u64, until_ms: u64) -> worker::Result<Value> {
    let read = ReadCall { since_ms, until_ms };
    call::call(env, Binding::Metrics, OBJECT, "/read", &read).await
}
