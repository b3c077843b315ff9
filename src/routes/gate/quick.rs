//! The quick lane: the gate's steps for a request that needs no I/O before its origin call,
//! decided in one synchronous call from the module entry (`src/entry.mjs`), which then does the
//! fetch and builds the answer in the runtime itself (`platform/edge.mjs`). Most admitted
//! traffic is such a request: a POST whose caller's key or token is known to this isolate, paid
//! from a lease of its grant or of its quota. For it, the lane takes the `worker` crate's
//! conversions and the futures executor off the hot path (bench/results.md).
//!
//! The lane runs the same steps as `mod.rs`, in the same order, through the same functions.
//! Wherever a step would wait on anything (the revocation list read again, a first lease, a
//! counter, a payment, the list cache, OAuth), it stops before any step that spends, and the
//! request goes the async way with the body the entry read: nothing was spent, so nothing is
//! spent twice. A refusal it reaches is the one the async path would reach, and is recorded the
//! same way.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use gatehouse_core::config::Config;
use gatehouse_core::credentials::session;
use gatehouse_core::mcp::MAX_POLICY_BODY;
use gatehouse_core::metering::limits::call_ceiling_check;
use gatehouse_core::policy::{charge, route};
use gatehouse_core::wire::denial::Denial;
use gatehouse_core::wire::headers::SESSION_ID_HEADER;
use worker::{web_sys, Context, Env};

use super::body::{body_headers, judge_body};
use super::caller::by_rate_key;
use super::credential::{Admitted, Headers};
use super::facts::{non_empty_header, Incoming, RequestFacts};
use super::trail;
use super::{answer, from_lease, list_cache, memo, memorable, permitted};
use super::{presented, quota_checks, Pass};
use crate::platform::body;
use crate::platform::config;
use crate::platform::outbound::Failure;
use crate::platform::proxy::{self, Forward};
use crate::platform::relay::Toward;
use crate::platform::reply::Reply;
use crate::platform::respond;
use crate::stores::revocation::is_revoked_now;

/// Requests of this isolate between their plan and their answer, and the bytes they hold; past
/// either, the async path.
const MAX_PENDING: usize = 4_096;
const MAX_PENDING_BYTES: usize = 16 << 20;
/// How long past its origin's deadline a request may take to report back: its answer is built
/// in the same turn as the origin's headers arrive.
const DEAD_AFTER_MS: u64 = 10_000;

/// What the entry read of a request: its URL and headers, in one string (name and value, one
/// per line; the runtime's `Headers` lowercases names and joins repeats, and no name or value
/// holds a line feed), and whether it carries `cf`.
pub struct Seen {
    url: String,
    headers: Vec<(String, String)>,
    via_edge: bool,
}

impl Seen {
    pub fn new(url: String, lines: &str, via_edge: bool) -> Self {
        let mut parts = lines.split('\n');
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            headers.push((name.to_string(), value.to_string()));
        }
        Seen {
            url,
            headers,
            via_edge,
        }
    }
}

impl Incoming for Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn url(&self) -> String {
        self.url.clone()
    }
    fn via_edge(&self) -> bool {
        self.via_edge
    }
}

/// What the lane decided.
pub enum Planned {
    /// Not the lane's: the async path takes it, with the body the entry read.
    Slow,
    /// Refused, and recorded.
    Refused(Denial),
    /// Admitted: the entry sends it to the origin, then reports back with [`done`].
    Forward(Outbound),
}

pub struct Outbound {
    pub id: u32,
    pub url: String,
    pub timeout_ms: u32,
    pub toward: Toward,
    /// The body the origin gets when it is not the one the client sent (something was cut).
    pub body: Option<Vec<u8>>,
}

/// What an admitted request needs once the origin has answered: what it will leave behind,
/// prepared (its audit rows cut and redacted; not its calls as parsed, which may be many times
/// its body), and what its answer's headers need.
struct Pending {
    cfg: Rc<Config>,
    route: String,
    left: trail::Prepared,
    client_key: String,
    headers: Headers,
    path: String,
    now_ms: u64,
    /// What it holds, for the budget.
    bytes: usize,
}

impl Pending {
    /// Past its origin's deadline and the margin: its client went away before the origin
    /// answered, and the runtime dropped the entry's promises, so it will never report back.
    fn dead(&self, now_ms: u64) -> bool {
        now_ms >= self.now_ms + u64::from(self.cfg.origin_timeout_ms) + DEAD_AFTER_MS
    }
}

/// The requests between plan and answer, by id (ids rise with time, so the oldest come first),
/// and their bytes in all.
#[derive(Default)]
struct Waiting {
    next: Option<u32>,
    held: BTreeMap<u32, Pending>,
    bytes: usize,
}

thread_local! {
    static PENDING: RefCell<Waiting> = RefCell::new(Waiting::default());
}

/// The gate's steps for `seen`, with its body as read.
pub fn plan(env: &Env, ctx: &Context, seen: &Seen, raw: Vec<u8>, now_ms: u64) -> Planned {
    let Some(cfg) = config::config(env) else {
        return Planned::Slow;
    };
    // OAuth may wait on its keys, and its resource server is its own path.
    if cfg.oauth.is_some() || !room(now_ms) {
        return Planned::Slow;
    }
    let facts = RequestFacts::read(seen, &cfg);
    let Some((route, rest)) = route::pick(&cfg.routes, &facts.host, &facts.path) else {
        return Planned::Slow;
    };
    let mut pass = Pass::new((env, ctx, &cfg), route, &rest, facts, now_ms);
    let Some(outcome) = steps(seen, &mut pass, raw).transpose() else {
        return Planned::Slow;
    };
    let (admitted, session, cut) = match outcome {
        Ok(admitted) => admitted,
        Err(denial) => return refused(&pass, denial),
    };
    pass.trail.caller.admitted_by = admitted.by.into();
    pass.trail.remaining = Some(admitted.remaining);
    let connection = seen.header("connection");
    let Ok(toward) = proxy::origin_side(connection.as_deref(), route, &cfg, session.as_deref())
    else {
        // A value the runtime would refuse, as the async path answers it (`proxy.rs`).
        worker::console_error!("{{\"event\":\"proxy_build_failed\"}}");
        return refused(&pass, Denial::Internal);
    };
    // The origin gets the body as sent unless something was cut from it.
    let body = pass.body.take().filter(|_| cut);
    let outbound = Outbound {
        id: 0,
        url: route.origin.join(&pass.upstream_path),
        timeout_ms: cfg.origin_timeout_ms,
        toward,
        body,
    };
    let left = trail::prepare(&cfg, &pass.record());
    let pending = Pending {
        cfg: cfg.clone(),
        route: route.name.clone(),
        bytes: left.bytes() + outbound.toward.set.len(),
        left,
        client_key: pass.facts.client_key.clone(),
        headers: admitted.headers,
        path: pass.facts.path.clone(),
        now_ms,
    };
    Planned::Forward(Outbound {
        id: keep(pending),
        ..outbound
    })
}

/// A refusal, logged and recorded as the async path does (`lib.rs`, `mod.rs`).
fn refused(p: &Pass<'_>, denial: Denial) -> Planned {
    respond::log_denial(&p.facts.path, &denial);
    trail::leave(p.env, p.ctx, p.cfg, &p.record(), Err(&denial));
    Planned::Refused(denial)
}

/// What admitted a request, the origin's own session id (unwrapped from the client's), and
/// whether anything was cut from the body.
type Steps = (Admitted, Option<String>, bool);

/// The steps, in `mod.rs`'s order: `Ok(None)` where one would wait.
fn steps(seen: &Seen, p: &mut Pass<'_>, raw: Vec<u8>) -> Result<Option<Steps>, Denial> {
    // The body step.
    body_headers(seen)?;
    let raw = body::as_declared(seen, raw, MAX_POLICY_BODY)?;
    let cut = judge_body(seen, p, raw)?;
    // The caller step.
    let keyed = by_rate_key(seen, p.cfg, &p.facts, p.now_ms / 1_000);
    p.trail.caller.client_key = p.facts.client_key.clone();
    let keyed = keyed?;
    if let Some(id) = &keyed.revocation {
        match is_revoked_now(p.env, p.ctx, id, p.now_ms) {
            None => return Ok(None),
            Some(true) => {
                return Err(Denial::InvalidApiKey(
                    gatehouse_core::credentials::api_key::KeyRejection::Revoked,
                ))
            }
            Some(false) => {}
        }
    }
    let mut caller = keyed.accept(&mut p.facts);
    caller.audit.client_key = p.facts.client_key.clone();
    p.trail.caller = caller.audit.clone();
    // An unverified key's address is held to a ceiling at its counter; no OAuth here.
    if caller.address.is_some() {
        return Ok(None);
    }
    let session = match non_empty_header(seen, SESSION_ID_HEADER) {
        Some(presented) => Some(
            session::unwrap(&p.cfg.token.keys, &p.facts.client_key, &presented)
                .ok_or(Denial::SessionNotFound)?,
        ),
        None => None,
    };
    // A payment is claimed and settled at the facilitator; a list may be answered from the cache.
    if super::evm::carries_payment(seen, p) || list_cache::cache_key(seen, p).is_some() {
        return Ok(None);
    }
    // The credential step.
    let cost = charge::credential_cost(p.route, &p.calls);
    if let Some((credential, claims)) = presented(seen, p)? {
        match is_revoked_now(p.env, p.ctx, credential.jti(), p.now_ms) {
            None => return Ok(None),
            Some(true) => {
                return Err(Denial::InvalidToken(
                    gatehouse_core::credentials::token::TokenRejection::Revoked,
                ))
            }
            Some(false) => {}
        }
        permitted(p, claims.as_ref())?;
        if credential.fits(cost) {
            // Per-tool limits are counted at the client's counter; so is a first lease.
            if !charge::limit_checks(p.route, &p.calls).is_empty() || credential.lease_short(cost) {
                return Ok(None);
            }
            if let Some(admitted) = credential.spend_leased(p.env, p.ctx, cost, p.now_ms) {
                return Ok(Some((admitted, session, cut)));
            }
        }
    }
    // The quota step, from this isolate's lease of it.
    let (mut checks, shown) = quota_checks(p, &caller);
    let cost = checks[0].cost;
    // An over-quota burst is answered from this isolate's memory of the denial, here too.
    if memorable(seen, &caller) {
        if let Some(recalled) = memo::recall(&p.facts.client_key, &p.route.name, cost, p.now_ms) {
            if let Some(denial) = answer::recalled(seen, p, recalled) {
                p.trail.remaining = Some(0);
                return Err(denial);
            }
        }
    }
    checks.push(call_ceiling_check(&p.cfg.limits, p.calls.len()));
    Ok(from_lease(p, &checks, &shown).map(|admitted| (admitted, session, cut)))
}

/// Whether another request fits among those waiting, once the dead are let go: what one holds is
/// bounded (`trail::Prepared::bytes`), by at most 16 rows of `AUDIT_MAX_ARG_BYTES` and the calls'
/// labels.
fn room(now_ms: u64) -> bool {
    PENDING.with(|p| {
        let w = &mut *p.borrow_mut();
        while let Some(entry) = w.held.first_entry() {
            if !entry.get().dead(now_ms) {
                break;
            }
            w.bytes -= entry.remove().bytes;
        }
        w.held.len() < MAX_PENDING && w.bytes <= MAX_PENDING_BYTES
    })
}

/// Holds what `done` will need, under a fresh id. Ids start at a random point below 2^31 in each
/// Wasm instance, so that one made after a reset does not meet an id handed out before it, and
/// they rise without wrapping (the map keeps them oldest first) for two billion requests.
fn keep(pending: Pending) -> u32 {
    PENDING.with(|p| {
        let w = &mut *p.borrow_mut();
        let id = match w.next {
            Some(id) => id,
            // Without the runtime's randomness, the clock's milliseconds: as unlikely to meet
            // the ids of an instance reset under requests in flight.
            None => {
                crate::platform::random::bytes::<4>()
                    .map_or(pending.now_ms as u32, u32::from_le_bytes)
                    >> 1
            }
        };
        w.next = Some(id.wrapping_add(1));
        w.bytes += pending.bytes;
        w.held.insert(id, pending);
        id
    })
}

/// How the origin call went, as the entry saw it.
pub enum Reached {
    Answered(web_sys::Response),
    Failed(Failure),
    /// The runtime refused the headers for the origin (a value from the configuration): the
    /// async path's `proxy_build_failed`.
    Unbuilt,
}

/// The client's answer once the origin call is over: the origin's answer relayed as the async
/// path relays it (`proxy.rs`), or a refusal (an origin that failed, a status no response can
/// have); recorded either way. `None` for an id this isolate does not hold.
pub fn done(env: &Env, ctx: &Context, id: u32, reached: Reached) -> Option<Result<Reply, Denial>> {
    let pending = PENDING.with(|p| {
        let w = &mut *p.borrow_mut();
        let pending = w.held.remove(&id)?;
        w.bytes -= pending.bytes;
        Some(pending)
    })?;
    let cfg = &pending.cfg;
    let wrap = |origin_id: &str| session::wrap(&cfg.token.keys, &pending.client_key, origin_id);
    let forward = Forward {
        headers: pending.headers.clone(),
        body: None,
        session: None,
        wrap_session: &wrap,
    };
    let answer = match reached {
        Reached::Answered(response) => proxy::relayed(&pending.route, response, &forward),
        Reached::Failed(failure) => Err(proxy::failed(&pending.route, failure)),
        Reached::Unbuilt => {
            worker::console_error!("{{\"event\":\"proxy_build_failed\"}}");
            Err(Denial::Internal)
        }
    };
    if let Err(denial) = &answer {
        respond::log_denial(&pending.path, denial);
    }
    trail::finish(env, ctx, pending.left, answer.as_ref().map(Reply::status));
    Some(answer)
}
