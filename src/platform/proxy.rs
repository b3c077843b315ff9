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
use gatehouse_core::wire::headers::SESSION_ID_HEADER as SESSION_HEADER;
use worker::{console_error, Method, Request};

use crate::platform::outbound::{self, Failure};
use crate::platform::relay;
use crate::platform::reply::Reply;

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
) -> Result<Reply, Denial> {
    // A gateway-issued API key is a credential for the gateway, like a token: it stops here.
    // An unverified rate key was set by the operator's own proxy, and goes on.
    let key_header = match &cfg.identity.rate_key {
        RateKey::IssuedKey { header } => Some(header.as_str()),
        _ => None,
    };
    let upstream = upstream_request(req, route, path_and_query, key_header, &f).map_err(|e| {
        console_error!("{{\"event\":\"proxy_build_failed\",\"error\":{e:?}}}");
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
    let origin = relay::facts(&response);
    // A status a response cannot have (RFC 9110 §15: three digits, 2xx to 5xx once the runtime
    // has taken its 1xx) is a broken origin: 502, never a response the runtime would refuse to
    // build.
    if !is_final_status(origin.status) {
        console_error!(
            "{{\"event\":\"origin_bad_status\",\"route\":{:?},\"status\":{}}}",
            route.name,
            origin.status
        );
        return Err(Denial::OriginUnreachable);
    }
    let wrapped = origin.session.as_deref().map(f.wrap_session);
    let mut set: Vec<(&str, &str)> = Vec::with_capacity(f.headers.len() + 1);
    if let Some(session) = &wrapped {
        set.push((SESSION_HEADER, session));
    }
    set.extend(f.headers.iter().map(|(n, v)| (*n, v.as_str())));
    // The origin's own rate-limit story would contradict the gateway's (docs/PROTOCOL.md §5):
    // `Retry-After` is the origin's to give only when it is itself refusing (429, 503).
    let drop_retry_after = !matches!(origin.status, 429 | 503);
    let relayed = relay::to_client(
        &response,
        origin.connection.as_deref(),
        drop_retry_after,
        &set,
    )
    .map_err(|_| Denial::Internal)?;
    Ok(Reply::Relayed {
        response: relayed,
        status: origin.status,
    })
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
) -> Result<outbound::Parts, String> {
    let incoming = req.headers();
    let connection = incoming.get("connection").map_err(|e| e.to_string())?;
    let mut set: Vec<(&str, &str)> = Vec::with_capacity(2);
    if let Some(cred) = &route.credential {
        set.push((&cred.header, &cred.value));
    }
    if let Some(session) = f.session {
        set.push((SESSION_HEADER, session));
    }
    let headers = relay::to_origin(&incoming.0, connection.as_deref(), key_header, &set)
        .map_err(|_| "a header the runtime refuses".to_string())?;
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
