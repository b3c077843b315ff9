//! The Worker's side of a call to a Durable Object: one POST with a JSON body to the object of a
//! given name in one of the three classes, and its JSON reply. Each object module reaches its
//! own class through it, so no object module needs another's.

use crate::platform::{outbound, respond};
use gatehouse_core::wire::denial::{Denial, Dependency};
use serde::{de::DeserializeOwned, Serialize};
// serde-wasm-bindgen as worker re-exports it (the version worker itself uses).
use worker::d1::serde_wasm_bindgen;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{wasm_bindgen::JsValue, web_sys, Env, Result, ScheduledTime};

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

/// The reply is read as the objects read their calls (`Request::json`): parsed by the runtime's
/// `JSON.parse` and taken from the JS value by serde-wasm-bindgen, which the objects' storage
/// needs anyway. Its code per type is a fraction of serde_json's reader's.
pub async fn call<T: Serialize, R: DeserializeOwned>(
    env: &Env,
    binding: Binding,
    name: &str,
    path: &str,
    body: &T,
) -> Result<R> {
    let reply = exchange(env, binding, name, path, serde_json::to_string(body)?).await?;
    Ok(serde_wasm_bindgen::from_value(reply)?)
}

/// The call itself, on JSON text and the parsed reply: one copy of the fetch for every type.
async fn exchange(
    env: &Env,
    binding: Binding,
    name: &str,
    path: &str,
    body: String,
) -> Result<JsValue> {
    let stub = env
        .durable_object(binding.name())?
        .id_from_name(name)?
        .get_stub()?;
    let url = format!("https://object{path}");
    let req = outbound::request(&url, "POST", None, Some(&JsValue::from_str(&body)), false)?;
    let resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "object answered {}",
            resp.status_code()
        )));
    }
    let raw: web_sys::Response = resp.into();
    Ok(JsFuture::from(raw.json()?).await?)
}

/// A failed object call, as the client sees it: `503` with `Retry-After`.
pub fn unavailable(e: worker::Error) -> Denial {
    respond::dependency_failed(Dependency::QuotaStore, e)
}

pub fn alarm_time(at_ms: u64) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&JsValue::from_f64(at_ms as f64)))
}
