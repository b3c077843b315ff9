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
use worker::{console_error, web_sys, Method, Request};

use crate::platform::outbound::{self, Failure};
use crate::platform::relay::{self, OriginFacts, Toward};
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
    let upstream = upstream_request(req, route, path_and_query, cfg, &f).map_err(|e| {
        console_error!("{{\"event\":\"proxy_build_failed\",\"error\":{e:?}}}");
        Denial::Internal
    })?;
    let response = outbound::fetch_parts(&upstream, cfg.origin_timeout_ms)
        .await
        .map_err(|failure| failed(&route.name, failure))?;
    relayed(&route.name, response, &f)
}

/// The origin's answer as the client gets it: its status and body stream, its headers as
/// [`client_side`] says.
pub fn relayed(route: &str, response: web_sys::Response, f: &Forward<'_>) -> Result<Reply, Denial> {
    let origin = relay::facts(&response);
    let (toward, drop_retry_after) = client_side(route, &origin, f)?;
    let relayed =
        relay::to_client(&response, toward, drop_retry_after).map_err(|_| Denial::Internal)?;
    Ok(Reply::Relayed {
        response: relayed,
        status: origin.status,
    })
}

/// The answer to an origin that did not answer in time, or at all.
pub fn failed(route: &str, failure: Failure) -> Denial {
    match failure {
        Failure::Unreachable(e) => {
            console_error!(
                "{{\"event\":\"origin_unreachable\",\"route\":{:?},\"error\":{:?}}}",
                route,
                e
            );
            Denial::OriginUnreachable
        }
        Failure::Timeout => Denial::OriginTimeout,
    }
}

/// The header work toward the origin: the client's `Connection` names and the gateway's own
/// credentials dropped, the route's credential and the origin's session id set.
pub fn origin_side(
    connection: Option<&str>,
    route: &Route,
    cfg: &Config,
    session: Option<&str>,
) -> Result<Toward, relay::Refused> {
    // A gateway-issued API key is a credential for the gateway, like a token: it stops here.
    // An unverified rate key was set by the operator's own proxy, and goes on.
    let key_header = match &cfg.identity.rate_key {
        RateKey::IssuedKey { header } => Some(header.as_str()),
        _ => None,
    };
    let mut set: Vec<(&str, &str)> = Vec::with_capacity(2);
    if let Some(cred) = &route.credential {
        set.push((&cred.header, &cred.value));
    }
    if let Some(session) = session {
        set.push((SESSION_HEADER, session));
    }
    relay::origin_side(connection, key_header, &set)
}

/// The header work toward the client, once the origin's answer is in, and whether its
/// `Retry-After` goes; a status no response can have is a broken origin, 502.
pub fn client_side(
    route: &str,
    origin: &OriginFacts,
    f: &Forward<'_>,
) -> Result<(Toward, bool), Denial> {
    // A status a response cannot have (RFC 9110 §15: three digits, 2xx to 5xx once the runtime
    // has taken its 1xx) is a broken origin: 502, never a response the runtime would refuse to
    // build.
    if !is_final_status(origin.status) {
        console_error!(
            "{{\"event\":\"origin_bad_status\",\"route\":{:?},\"status\":{}}}",
            route,
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
    let toward =
        relay::client_side(origin.connection.as_deref(), &set).map_err(|_| Denial::Internal)?;
    Ok((toward, drop_retry_after))
}

/// A final status the runtime builds a response with.
fn is_final_status(status: u16) -> bool {
    (200..=599).contains(&status)
}

fn upstream_request(
    req: &Request,
    route: &Route,
    path_and_query: &str,
    cfg: &Config,
    f: &Forward,
) -> Result<outbound::Parts, String> {
    let incoming = req.headers();
    let connection = incoming.get("connection").map_err(|e| e.to_string())?;
    let toward = origin_side(connection.as_deref(), route, cfg, f.session)
        .map_err(|_| "a header the runtime refuses".to_string())?;
    let headers = relay::to_origin(&incoming.0, toward)
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
