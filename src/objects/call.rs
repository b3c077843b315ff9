//! The Worker's side of a call to a Durable Object: one POST with a JSON body to the object of a
//! given name in one of the three classes, and its JSON reply. Each object module reaches its
//! own class through it, so no object module needs another's.

use crate::platform::respond;
use gatehouse_core::denial::{Denial, Dependency};
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{wasm_bindgen::JsValue, Env, Method, Request, RequestInit, Result, ScheduledTime};

/// The three classes, by the binding that reaches them (wrangler.toml).
#[derive(Clone, Copy)]
pub enum Binding {
    /// `GateCounter`: one object per client key.
    Clients,
    /// `CredentialCounter`: one object per credential id.
    Credentials,
    /// `MetricsObject`: one object for the whole deployment.
    Metrics,
}

impl Binding {
    fn name(self) -> &'static str {
        match self {
            Self::Clients => "COUNTERS",
            Self::Credentials => "CREDENTIALS",
            Self::Metrics => "METRICS",
        }
    }
}

pub async fn call<T: Serialize, R: for<'de> Deserialize<'de>>(
    env: &Env,
    binding: Binding,
    name: &str,
    path: &str,
    body: &T,
) -> Result<R> {
    let stub = env
        .durable_object(binding.name())?
        .id_from_name(name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(body)?)));
    let req = Request::new_with_init(&format!("https://object{path}"), &init)?;
    let resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "object answered {}",
            resp.status_code()
        )));
    }
    // The reply's text in one call: the worker crate would read its stream chunk by chunk.
    let raw: worker::web_sys::Response = resp.into();
    let text = JsFuture::from(raw.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    Ok(serde_json::from_str(&text)?)
}

/// A failed object call, as the client sees it: `503` with `Retry-After`.
pub fn unavailable(e: worker::Error) -> Denial {
    respond::dependency_failed(Dependency::QuotaStore, e)
}

pub fn alarm_time(at_ms: u64) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&JsValue::from_f64(at_ms as f64)))
}
