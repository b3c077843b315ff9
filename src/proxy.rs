//! Forwards a request to the origin and streams the answer back (MCP Streamable HTTP, PROTOCOLS
//! §4). Bodies are never buffered in either direction: the request body is handed to `fetch` as
//! the client's stream, and the origin's body (JSON, or an SSE stream event by event) goes back as
//! a stream. Redirects are returned to the client, not followed, so the origin cannot steer the
//! gateway elsewhere. The timeout covers the wait for the origin's response headers only; a
//! long-lived SSE stream after them is the protocol working, not a hang.

use gatehouse_core::config::Config;
use gatehouse_core::denial::Denial;
use gatehouse_core::headers::{dropped_toward_client, dropped_toward_origin};
use worker::{
    console_error, Headers, Method, Request, RequestInit, RequestRedirect, Response, ResponseBody,
};

use crate::outbound::{self, Failure};
use crate::request_facts::RequestFacts;

pub async fn forward(
    req: &Request,
    facts: &RequestFacts,
    cfg: &Config,
    extra_headers: &[(&'static str, String)],
    body: Option<&[u8]>,
) -> Result<Response, Denial> {
    let upstream = upstream_request(req, facts, cfg, body).map_err(|e| {
        console_error!(
            "{{\"event\":\"proxy_build_failed\",\"error\":{:?}}}",
            e.to_string()
        );
        Denial::Internal
    })?;
    let response = match outbound::fetch(upstream, cfg.origin_timeout_ms).await {
        Ok(response) => response,
        Err(Failure::Unreachable(e)) => {
            console_error!("{{\"event\":\"origin_unreachable\",\"error\":{:?}}}", e);
            return Err(Denial::OriginUnreachable);
        }
        Err(Failure::Timeout) => return Err(Denial::OriginTimeout),
    };
    downstream_response(response, extra_headers).map_err(|_| Denial::Internal)
}

/// `body` replaces the client's stream when the gateway had to read it (to see which tools it
/// calls); otherwise the client's stream goes on untouched.
fn upstream_request(
    req: &Request,
    facts: &RequestFacts,
    cfg: &Config,
    body: Option<&[u8]>,
) -> worker::Result<Request> {
    let incoming = req.headers();
    let headers = copy_without(
        incoming,
        &dropped_toward_origin(incoming.get("connection")?.as_deref()),
    )?;
    if let Some(cred) = &cfg.origin_credential {
        headers.set(&cred.header, &cred.value)?;
    }
    let method = req.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !matches!(method, Method::Get | Method::Head) {
        match body {
            Some(bytes) => init.with_body(Some(worker::js_sys::Uint8Array::from(bytes).into())),
            None => init.with_body(req.inner().body().map(Into::into)),
        };
    }
    Request::new_with_init(&cfg.origin.join(&facts.path_and_query), &init)
}

fn downstream_response(
    response: Response,
    extra_headers: &[(&'static str, String)],
) -> worker::Result<Response> {
    let raw: worker::web_sys::Response = response.into();
    let origin_headers = Headers(raw.headers());
    let headers = copy_without(
        &origin_headers,
        &dropped_toward_client(origin_headers.get("connection")?.as_deref()),
    )?;
    for (name, value) in extra_headers {
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

/// A copy of `headers` less `dropped`. The copy is made by the runtime in one call; only the
/// deletions cross into it one by one, which costs far less than rebuilding field by field.
fn copy_without(headers: &Headers, dropped: &[String]) -> worker::Result<Headers> {
    let copy = Headers(worker::web_sys::Headers::new_with_headers(&headers.0)?);
    for name in dropped {
        copy.delete(name)?;
    }
    Ok(copy)
}
