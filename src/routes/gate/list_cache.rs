//! Public list results from the edge (`gatehouse_core::mcp::cache`, MCP 2026-07-28 caching): the
//! step between admission and the origin. A request the core says may be answered from the
//! cache is looked up in the Workers Cache API; a hit is answered with the kept result under the
//! request's id, with no origin call; a miss goes to the origin, and an answer the core says may
//! be kept is put in the cache after it is served. The Cache API failing only means a miss.
//!
//! The isolate also keeps what it found or put, for the same time (bounded: [`MEMORY_ENTRIES`]),
//! and lets one request per key look further at a time: the others wait for its answer (at most
//! [`WAIT_MS`]) instead of all asking the origin at once when an entry is missing or expired.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use gatehouse_core::mcp::cache::{answer, keepable, request_key, MAX_CACHED_RESULT};
use gatehouse_core::mcp::revision::Revision;
use gatehouse_core::wire::denial::Denial;
use worker::{Cache, Delay, Headers, Request, Response};

use super::facts::{non_empty_header, Incoming};
use super::Pass;
use crate::platform::body::{self, Peeked};
use crate::platform::proxy::{self, Forward};
use crate::platform::reply::Reply;

/// When a kept answer stops being served, in the entry's own header: the Cache API keeps
/// `max-age` in whole seconds, the result's `ttlMs` is in milliseconds.
const UNTIL_HEADER: &str = "x-gatehouse-kept-until";

/// Entries this isolate keeps in memory beside the Cache API.
const MEMORY_ENTRIES: usize = 256;
/// How long a request waits for another one asking the origin the same thing.
const WAIT_MS: u64 = 1_000;

thread_local! {
    static MEMORY: RefCell<HashMap<String, (Vec<u8>, u64)>> = RefCell::new(HashMap::new());
    static ASKING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

fn remembered(key: &str, now_ms: u64) -> Option<Vec<u8>> {
    MEMORY.with(|m| {
        let m = m.borrow();
        let (bytes, until) = m.get(key)?;
        (now_ms < *until).then(|| bytes.clone())
    })
}

fn remember(key: &str, bytes: &[u8], until_ms: u64, now_ms: u64) {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        m.retain(|_, (_, until)| *until > now_ms);
        if m.len() < MEMORY_ENTRIES {
            m.insert(key.to_string(), (bytes.to_vec(), until_ms));
        }
    });
}

/// Marks `key` as being asked of the origin; `false` when another request already is.
fn start_asking(key: &str) -> bool {
    ASKING.with(|a| a.borrow_mut().insert(key.to_string()))
}

fn done_asking(key: &str) {
    ASKING.with(|a| a.borrow_mut().remove(key));
}

/// Waits for the request that is asking the origin for `key` to keep its answer.
async fn wait_for(key: &str, now_ms: u64) -> Option<Vec<u8>> {
    let mut waited = 0;
    while ASKING.with(|a| a.borrow().contains(key)) && waited < WAIT_MS {
        Delay::from(Duration::from_millis(10)).await;
        waited += 10;
        if let Some(bytes) = remembered(key, now_ms + waited) {
            return Some(bytes);
        }
    }
    remembered(key, now_ms + waited)
}

/// The key a request's answer may be kept under, and the id its answer goes back with: `None`
/// for a request the cache never answers.
pub(super) fn cache_key(req: &dyn Incoming, p: &Pass<'_>) -> Option<(String, serde_json::Value)> {
    let call = p.calls.first()?;
    let revision = Revision::of(
        non_empty_header(req, "mcp-protocol-version").as_deref(),
        call.revision.as_deref(),
    );
    let body = p.body.as_deref()?;
    let key = request_key(&p.route.name, body, &p.calls, p.batch, revision)?;
    Some((key, call.id.clone()?))
}

/// The origin's answer to the admitted request, or the kept one.
pub(super) async fn through(
    req: &Request,
    p: &Pass<'_>,
    forward: Forward<'_>,
) -> Result<Reply, Denial> {
    let Some((key, id)) = cache_key(req, p) else {
        return proxy::forward(req, p.route, &p.upstream_path, p.cfg, forward).await;
    };
    let headers = forward.headers.clone();
    if let Some(bytes) = remembered(&key, p.now_ms) {
        return respond(answer(&bytes, &id), &headers).map(Reply::from);
    }
    // One request per key looks further (the Cache API, then the origin); the others wait.
    let asking = start_asking(&key);
    if !asking {
        if let Some(bytes) = wait_for(&key, p.now_ms).await {
            return respond(answer(&bytes, &id), &headers).map(Reply::from);
        }
    }
    let served = match kept(&key, p.now_ms).await {
        Some((bytes, until_ms)) => {
            remember(&key, &bytes, until_ms, p.now_ms);
            respond(answer(&bytes, &id), &headers).map(Reply::from)
        }
        None => {
            let served = proxy::forward(req, p.route, &p.upstream_path, p.cfg, forward).await;
            keep(served, &key, &id, p).await
        }
    };
    if asking {
        done_asking(&key);
    }
    served
}

/// Serves the origin's answer, and keeps it when the core says it may be kept.
async fn keep(
    served: Result<Reply, Denial>,
    key: &str,
    id: &serde_json::Value,
    p: &Pass<'_>,
) -> Result<Reply, Denial> {
    let served = served?;
    let json = served.status() == 200
        && served
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
    if !json {
        return Ok(served);
    }
    let mut served = served.into_built();
    let (status, origin_headers) = (served.status_code(), served.headers().clone());
    let bytes = match body::peek_response(&mut served, MAX_CACHED_RESULT).await? {
        Peeked::Whole(bytes) => bytes,
        Peeked::Longer(read, rest) => {
            let head = futures_util::stream::once(async move { Ok(read) });
            let stream = futures_util::StreamExt::chain(head, rest);
            return Response::from_stream(stream)
                .map(|r| r.with_status(status).with_headers(origin_headers).into())
                .map_err(|_| Denial::Internal);
        }
    };
    if let Some(k) = keepable(&bytes, id) {
        let until_ms = p.now_ms + k.ttl_ms;
        remember(key, &k.result, until_ms, p.now_ms);
        let key = key.to_string();
        let entry = Response::from_bytes(k.result).map_err(|_| Denial::Internal)?;
        let entry_headers = Headers::new();
        let max_age = format!("max-age={}", k.ttl_ms.div_ceil(1_000));
        let set = entry_headers
            .set("cache-control", &max_age)
            .and_then(|_| entry_headers.set(UNTIL_HEADER, &until_ms.to_string()));
        if set.is_ok() {
            let entry = entry.with_headers(entry_headers);
            p.ctx.wait_until(async move {
                let _ = Cache::default().put(key.as_str(), entry).await;
            });
        }
    }
    origin_headers
        .delete("content-length")
        .map_err(|_| Denial::Internal)?;
    Response::from_bytes(bytes)
        .map(|r| r.with_status(status).with_headers(origin_headers).into())
        .map_err(|_| Denial::Internal)
}

/// The result kept under `key` in the Cache API, while it is fresh, and until when.
async fn kept(key: &str, now_ms: u64) -> Option<(Vec<u8>, u64)> {
    let mut hit = Cache::default().get(key, false).await.ok()??;
    let until: u64 = hit.headers().get(UNTIL_HEADER).ok()??.parse().ok()?;
    if now_ms >= until {
        return None;
    }
    Some((hit.bytes().await.ok()?, until))
}

fn respond(bytes: Vec<u8>, headers: &[(&'static str, String)]) -> Result<Response, Denial> {
    let out = Headers::new();
    out.set("content-type", "application/json")
        .map_err(|_| Denial::Internal)?;
    for (name, value) in headers {
        out.set(name, value).map_err(|_| Denial::Internal)?;
    }
    Response::from_bytes(bytes)
        .map(|r| r.with_headers(out))
        .map_err(|_| Denial::Internal)
}
