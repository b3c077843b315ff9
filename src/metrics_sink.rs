//! Metrics without a write per request: events accumulate in this isolate's `Delta` and are
//! shipped to the metrics Durable Object at most every `FLUSH_MS` (or sooner when the delta
//! grows), off the response path. The admin API flushes its own isolate before reading, so a
//! dashboard never lags what this isolate has seen.

use std::cell::RefCell;

use gatehouse_core::metrics::Delta;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{console_error, Context, Env};

use crate::quota_do;

const FLUSH_MS: u64 = 5_000;
const FLUSH_SIZE: usize = 200;
pub const OBJECT: &str = "metrics:global";

thread_local! {
    static PENDING: RefCell<(Delta, u64)> = RefCell::new((Delta::default(), 0));
}

pub fn record(f: impl FnOnce(&mut Delta)) {
    PENDING.with(|p| f(&mut p.borrow_mut().0));
}

#[derive(Serialize, Deserialize)]
pub struct AddCall {
    pub delta: Delta,
    pub now_ms: u64,
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

async fn ship(env: &Env, delta: Delta, now_ms: u64) {
    if let Err(e) = quota_do::metrics_add(env, &AddCall { delta, now_ms }).await {
        console_error!(
            "{{\"event\":\"metrics_flush_failed\",\"error\":{:?}}}",
            format!("{e:?}")
        );
    }
}

/// Ships the pending delta in the background if it is due.
pub fn maybe_flush(env: &Env, ctx: &Context, now_ms: u64) {
    if let Some(delta) = take(now_ms, false) {
        let env = env.clone();
        ctx.wait_until(async move { ship(&env, delta, now_ms).await });
    }
}

/// Ships whatever is pending, now.
pub async fn flush_now(env: &Env, now_ms: u64) {
    if let Some(delta) = take(now_ms, true) {
        ship(env, delta, now_ms).await;
    }
}

pub async fn stats(env: &Env, since_ms: u64, until_ms: u64) -> worker::Result<Value> {
    quota_do::metrics_read(env, &ReadCall { since_ms, until_ms }).await
}
