//! Turns the core's wire descriptions into runtime responses, and writes the operator's log line
//! for each refusal (one JSON object per line, the Workers Logs convention).

use gatehouse_core::wire::denial::{Denial, Dependency, Wire};
use gatehouse_core::wire::json_object::object;
use worker::{console_error, console_log, Headers, Response, Result};

/// Fails only if the runtime cannot construct a Response at all.
pub fn wire(w: &Wire) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &w.headers {
        headers.append(name, value)?;
    }
    let body = serde_json::to_vec(&w.body)?;
    Ok(Response::from_bytes(body)?
        .with_status(w.status)
        .with_headers(headers))
}

pub fn denial(d: &Denial) -> Result<Response> {
    wire(&d.to_wire())
}

/// A JSON answer from the gateway's own endpoints.
pub fn json(status: u16, body: &serde_json::Value) -> Result<Response> {
    wire(&Wire {
        status,
        headers: vec![
            ("content-type", "application/json".into()),
            ("cache-control", "no-store".into()),
        ],
        body: body.clone(),
    })
}

pub fn log_denial(path: &str, d: &Denial) {
    let status = d.to_wire().status;
    let line = object([
        ("event", "denied".into()),
        ("path", path.into()),
        ("status", status.into()),
        ("reason", d.log_detail().into()),
    ]);
    console_log!("{line}");
}

/// The one log line for a failed dependency, and the answer the client gets for it: `503` with
/// `Retry-After` (never a `402` or a `429`: the client did nothing wrong).
pub fn dependency_failed(dependency: Dependency, error: impl std::fmt::Display) -> Denial {
    let line = object([
        ("event", "dependency_failed".into()),
        ("dependency", dependency.as_str().into()),
        ("error", error.to_string().into()),
    ]);
    console_error!("{line}");
    Denial::DependencyUnavailable(dependency)
}
