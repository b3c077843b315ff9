//! The Worker's side of a call to a `GateCounter` Durable Object (`quota_do.rs`): one POST with a
//! JSON body to the object of a given name, and its JSON reply. Both the quota and token counters
//! and the metrics object are reached through it, so neither of their modules needs the other's.

use serde::{Deserialize, Serialize};
use worker::{wasm_bindgen::JsValue, Env, Method, Request, RequestInit, Result};

pub const BINDING: &str = "COUNTERS";

pub async fn call<T: Serialize, R: for<'de> Deserialize<'de>>(
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
