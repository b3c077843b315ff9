//! Outbound `fetch` with a deadline on the response headers, shared by the proxy, the invoice
//! backends and the authorization server's documents. Only the wait for headers is bounded: a body
//! that streams for minutes (SSE) after them is the protocol working, so the deadline is cleared
//! once headers are in. At the deadline, [`fetch`] aborts its request; the proxy's
//! [`fetch_parts`] leaves a hung origin's connection to end with the request's context, since an
//! abort signal costs every proxied request (`edge.mjs`). A caller that reads a whole body into
//! memory reads it with `read_capped`, which bounds both its size and its time.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::{pin_mut, StreamExt};
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Delay, Headers, Request, Response};

/// An outbound request, built on the runtime's own `RequestInit`: worker's `RequestInit` carries
/// the Cloudflare `cf` options (image resizing and the rest), whose conversion code nothing here
/// needs. A `manual` redirect is handed back unfollowed; otherwise the Fetch default (follow).
pub fn request(
    url: &str,
    method: &str,
    headers: Option<&Headers>,
    body: Option<&JsValue>,
    manual: bool,
) -> worker::Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(headers) = headers {
        init.set_headers(&headers.0);
    }
    if let Some(body) = body {
        init.set_body(body);
    }
    if manual {
        init.set_redirect(web_sys::RequestRedirect::Manual);
    }
    web_sys::Request::new_with_str_and_init(url, &init)
        .map(Request::from)
        .map_err(|e| {
            worker::Error::JsError(
                e.as_string()
                    .unwrap_or_else(|| "invalid URL or options for Request".into()),
            )
        })
}

pub enum Failure {
    Unreachable(String),
    Timeout,
}

// The race between the fetch and its deadline runs in JavaScript (`edge.mjs`): one promise
// crosses into the Worker per request, instead of a timer future and a select polled from Rust
// (measured on the token path, bench/results.md).
#[wasm_bindgen(module = "/src/platform/edge.mjs")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn fetch_parts_with_deadline(
        url: &str,
        method: &str,
        headers: &web_sys::Headers,
        body: Option<JsValue>,
        ms: u32,
    ) -> std::result::Result<worker::js_sys::Promise, JsValue>;
    #[wasm_bindgen(catch)]
    fn fetch_with_deadline(
        request: &worker::web_sys::Request,
        ms: u32,
    ) -> std::result::Result<worker::js_sys::Promise, JsValue>;
}

/// An outbound request given by its parts, built by the runtime in the same call that sends it
/// (the proxy's: one crossing instead of a `RequestInit` filled field by field). Redirects are
/// handed back unfollowed.
pub struct Parts {
    pub url: String,
    pub method: String,
    pub headers: web_sys::Headers,
    pub body: Option<JsValue>,
}

pub async fn fetch(request: Request, timeout_ms: u32) -> Result<Response, Failure> {
    settle(fetch_with_deadline(request.inner(), timeout_ms))
        .await
        .map(Response::from)
}

/// The proxy's fetch: the answer as the runtime gives it, which the proxy relays without the
/// `worker` crate's conversions (`relay.rs`). Not aborted at its deadline: the request's context
/// ending lets a hung origin go, so this is for a request's own context only, never a Durable
/// Object's or anything else that outlives its requests.
pub async fn fetch_parts(parts: &Parts, timeout_ms: u32) -> Result<web_sys::Response, Failure> {
    let (url, method) = (&parts.url, &parts.method);
    let body = parts.body.clone();
    settle(fetch_parts_with_deadline(
        url,
        method,
        &parts.headers,
        body,
        timeout_ms,
    ))
    .await
}

async fn settle(
    promise: std::result::Result<worker::js_sys::Promise, JsValue>,
) -> Result<web_sys::Response, Failure> {
    let unreachable = |e: JsValue| {
        Failure::Unreachable(
            e.as_string()
                .or_else(|| worker::js_sys::Error::from(e).message().as_string())
                .unwrap_or_else(|| "fetch failed".into()),
        )
    };
    match JsFuture::from(promise.map_err(unreachable)?).await {
        Ok(v) if v.is_null() => Err(Failure::Timeout),
        Ok(v) => Ok(web_sys::Response::from(v)),
        Err(e) => Err(unreachable(e)),
    }
}

/// Reads a response body of at most `cap` bytes within `timeout_ms`. It stops at the first chunk
/// past the cap, or at a declared `Content-Length` past it before reading anything, and drops
/// the stream, which cancels the rest: a hostile server cannot make the gateway buffer more than
/// the cap, nor hold it with a body that trickles.
pub async fn read_capped(
    res: &mut Response,
    cap: usize,
    timeout_ms: u32,
) -> Result<Vec<u8>, String> {
    let declared = res
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    let Ok(mut stream) = res.stream() else {
        return Ok(Vec::new());
    };
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(format!("declared a body over {cap} bytes"));
    }
    let read = async move {
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            if out.len() + chunk.len() > cap {
                return Err(format!("sent a body over {cap} bytes"));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    let timeout = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    pin_mut!(read);
    pin_mut!(timeout);
    match select(read, timeout).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err("did not finish its body in time".into()),
    }
}
