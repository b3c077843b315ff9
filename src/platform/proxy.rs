//! Forwards a request to its route's origin and streams the answer back (MCP Streamable HTTP,
//! docs/PROTOCOL.md §4). The origin's body (JSON, or an SSE stream event by event) goes back as a stream,
//! never buffered. The request body goes on as the client's stream, or as the bytes the gateway
//! read to apply its policy. Redirects are returned to the client, not followed, so the origin
//! cannot steer the gateway elsewhere. The timeout covers the wait for response headers only.
//!
//! Session ids cross in disguise: the client holds the gateway's caller-bound wrapping of the
//! origin's id (`gatehouse_core::credentials::session`); the origin only ever sees its own.

use gatehouse_core::config::Config;
use gatehouse_core::credentials::identity::RateKey;
use gatehouse_core::policy::Route;
use gatehouse_core::wire::denial::Denial;
use gatehouse_core::wire::headers::RETRY_AFTER_HEADER;
use gatehouse_core::wire::headers::SESSION_ID_HEADER as SESSION_HEADER;
use worker::{console_error, Headers, Method, Request, Response, ResponseBody};

use crate::platform::header_copy::{self, Toward};
use crate::platform::outbound::{self, Failure};

pub struct Forward<'a> {
    /// Headers the gateway adds to the response (rate limits).
    pub headers: Vec<(&'static str, String)>,
    /// The body the gateway read, if it did.
    pub body: Option<&'a [u8]>,
    /// The origin's own session id, unwrapped from the client's.
    pub session: Option<&'a str>,
    /// Wraps a session id the origin issues before the client sees it.
    pub wrap_session: &'a dyn Fn(&str) -> String,
}

pub async fn forward(
    req: &Request,
    route: &Route,
    path_and_query: &str,
    cfg: &Config,
    f: Forward<'_>,
) -> Result<Response, Denial> {
    // A gateway-issued API key is a credential for the gateway, like a token: it stops here.
    // An unverified rate key was set by the operator's own proxy, and goes on.
    let key_header = match &cfg.identity.rate_key {
        RateKey::IssuedKey { header } => Some(header.as_str()),
        _ => None,
    };
    let upstream = upstream_request(req, route, path_and_query, key_header, &f).map_err(|e| {
        console_error!(
            "{{\"event\":\"proxy_build_failed\",\"error\":{:?}}}",
            e.to_string()
        );
        Denial::Internal
    })?;
    let response = match outbound::fetch_parts(&upstream, cfg.origin_timeout_ms).await {
        Ok(response) => response,
        Err(Failure::Unreachable(e)) => {
            console_error!(
                "{{\"event\":\"origin_unreachable\",\"route\":{:?},\"error\":{:?}}}",
                route.name,
                e
            );
            return Err(Denial::OriginUnreachable);
        }
        Err(Failure::Timeout) => return Err(Denial::OriginTimeout),
    };
    // A status a response cannot have (RFC 9110 §15: three digits, 2xx to 5xx once the runtime
    // has taken its 1xx) is a broken origin: 502, never a response the runtime would refuse to
    // build (the `worker` crate unwraps that error, which would take the isolate down).
    let status = response.status_code();
    if !is_final_status(status) {
        console_error!(
            "{{\"event\":\"origin_bad_status\",\"route\":{:?},\"status\":{status}}}",
            route.name
        );
        return Err(Denial::OriginUnreachable);
    }
    downstream_response(response, &f).map_err(|_| Denial::Internal)
}

/// A final status the runtime builds a response with.
fn is_final_status(status: u16) -> bool {
    (200..=599).contains(&status)
}

fn upstream_request(
    req: &Request,
    route: &Route,
    path_and_query: &str,
    key_header: Option<&str>,
    f: &Forward,
) -> worker::Result<outbound::Parts> {
    let incoming = req.headers();
    let headers = header_copy::copy(
        incoming,
        Toward::Origin,
        incoming.get("connection")?.as_deref(),
    )?;
    if let Some(name) = key_header {
        headers.delete(name)?;
    }
    if let Some(cred) = &route.credential {
        headers.set(&cred.header, &cred.value)?;
    }
    if let Some(session) = f.session {
        headers.set(SESSION_HEADER, session)?;
    }
    let method = req.method();
    // Only a POST carries a body to the origin, and only the one the gateway read and judged:
    // a body on any other method would reach the origin unread, uncounted and uncapped.
    let body = match (&method, f.body) {
        (Method::Post, Some(bytes)) => Some(worker::js_sys::Uint8Array::from(bytes).into()),
        _ => None,
    };
    Ok(outbound::Parts {
        url: route.origin.join(path_and_query),
        method: method.to_string(),
        headers,
        body,
    })
}

fn downstream_response(response: Response, f: &Forward) -> worker::Result<Response> {
    let raw: worker::web_sys::Response = response.into();
    let origin_headers = Headers(raw.headers());
    let headers = header_copy::copy(
        &origin_headers,
        Toward::Client,
        origin_headers.get("connection")?.as_deref(),
    )?;
    if let Some(session) = origin_headers.get(SESSION_HEADER)? {
        headers.set(SESSION_HEADER, &(f.wrap_session)(&session))?;
    }
    // The origin's own rate-limit story would contradict the gateway's (docs/PROTOCOL.md §5):
    // `Retry-After` is the origin's to give only when it is itself refusing (429, 503).
    if !matches!(raw.status(), 429 | 503) && origin_headers.get(RETRY_AFTER_HEADER)?.is_some() {
        headers.delete(RETRY_AFTER_HEADER)?;
    }
    for (name, value) in &f.headers {
        headers.set(name, value)?;
    }
    let body = match raw.body() {
        Some(stream) => ResponseBody::Stream(stream),
        None => ResponseBody::Empty,
    };
    Ok(Response::builder()
        .with_status(raw.status())
        .with_headers(headers)
        .body(body))
}
