//! The gate in front of the origins (docs/PROTOCOL.md §1, §2, §4, §5), as a sequence of named
//! steps: route → body → caller → credential → quota → answer → proxy.
//!
//! - body: one reading of the POST body (size- and call-capped), checked against
//!   `Mcp-Method`/`Mcp-Name`; an in-band token is always taken out of it.
//! - caller: who is counted (`caller.rs`), and whether an OAuth caller may make these calls.
//! - credential: an access token or L402 credential pays with units of its grant, per call.
//! - quota: the client's counters, all or nothing; per-tool limits apply on every path.
//! - answer: at exhaustion, a 402 with challenges (offered again while outstanding), in-band
//!   JSON-RPC errors, or a 429.
//!
//! Every tool call, admitted or not, goes to the audit trail (`trail.rs`).

pub mod answer;
mod body;
pub mod caller;
mod ceiling;
pub mod credential;
mod evm;
pub mod facts;
mod leases;
mod list_cache;
pub mod memo;
pub mod oauth;
pub mod offers;
pub mod quick;
mod refuse;
pub mod trail;
pub mod usage;

use gatehouse_core::config::Config;
use gatehouse_core::credentials::session;
use gatehouse_core::credentials::token::AccessClaims;
use gatehouse_core::mcp::{tool_names, Call};
use gatehouse_core::metering::lease::with_grants;
use gatehouse_core::metering::limits::{call_ceiling_check, without_ceiling};
use gatehouse_core::metering::quota::{Check, Policy};
use gatehouse_core::metering::ratelimit::quota_headers;
use gatehouse_core::policy::charge;
use gatehouse_core::policy::{route, Route};
use gatehouse_core::wire::denial::Denial;
use gatehouse_core::wire::headers::{ACCESS_TOKEN_HEADER, TIME_BUDGET_HEADER};
use worker::{Context, Env, Method, Request};

use crate::objects::client_counter;
use crate::platform::proxy::Forward;
use crate::platform::reply::Reply;
use crate::stores::runtime;
use caller::{identify, Caller};
use ceiling::{address_ceiling, at_address_ceiling};
use credential::{l402_credential, token_credential, unless_revoked, Admitted, Credential};
use facts::{non_empty_header, Incoming, RequestFacts};
use refuse::{shown_policy, too_many};
use trail::Trail;

/// One request on its way through the gate.
struct Pass<'a> {
    env: &'a Env,
    ctx: &'a Context,
    cfg: &'a Config,
    route: &'a Route,
    now_ms: u64,
    facts: RequestFacts,
    upstream_path: String,
    /// The body as the origin will receive it, when the gateway read it.
    body: Option<Vec<u8>>,
    calls: Vec<Call>,
    batch: bool,
    in_band_token: Option<String>,
    /// An x402 payment carried in `params._meta["x402/payment"]` (`x402.rs`).
    mcp_payment: Option<serde_json::Value>,
    /// An MPP credential carried in `params._meta["org.paymentauth/credential"]` (`x402.rs`).
    mcp_credential: Option<serde_json::Value>,
    /// The per-tool limits were charged on the way to the quota (`by_credential`).
    limits_charged: bool,
    trail: Trail,
    /// The audit rows, made once the request is admitted (`run`).
    prepared: Option<trail::Prepared>,
}

pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
    pre_read: Option<Vec<u8>>,
) -> Result<Reply, Denial> {
    let facts = RequestFacts::read(&req, cfg);
    let (route, rest) =
        route::pick(&cfg.routes, &facts.host, &facts.path).ok_or(Denial::NotFound)?;
    // MCP Streamable HTTP uses GET, POST and DELETE (plus CORS preflights and HEAD); nothing else
    // reaches an origin.
    if !matches!(
        req.method(),
        Method::Get | Method::Post | Method::Delete | Method::Head | Method::Options
    ) {
        return Err(Denial::MethodNotAllowed {
            allow: "GET, POST, DELETE",
        });
    }
    let mut pass = Pass::new((env, ctx, cfg), route, &rest, facts, now_ms);
    let outcome = run(&mut req, &mut pass, pre_read).await;
    let status = outcome.as_ref().map(Reply::status);
    match pass.prepared.take() {
        Some(prepared) => trail::finish(env, ctx, prepared, status),
        None => trail::leave(env, ctx, cfg, &pass.record(), status),
    }
    outcome
}

impl<'a> Pass<'a> {
    fn new(
        (env, ctx, cfg): (&'a Env, &'a Context, &'a Config),
        route: &'a Route,
        rest: &str,
        facts: RequestFacts,
        now_ms: u64,
    ) -> Self {
        Pass {
            env,
            ctx,
            cfg,
            route,
            now_ms,
            upstream_path: format!("{rest}{}", facts.query),
            trail: Trail {
                caller: gatehouse_core::audit::Caller {
                    client_key: facts.client_key.clone(),
                    ..Default::default()
                },
                remaining: None,
            },
            facts,
            body: None,
            calls: Vec::new(),
            batch: false,
            in_band_token: None,
            mcp_payment: None,
            mcp_credential: None,
            limits_charged: false,
            prepared: None,
        }
    }

    /// What the audit trail is told of the request.
    fn record(&self) -> trail::Request<'_> {
        trail::Request {
            route: &self.route.name,
            calls: &self.calls,
            trail: &self.trail,
            now_ms: self.now_ms,
        }
    }
}

async fn run(
    req: &mut Request,
    p: &mut Pass<'_>,
    pre_read: Option<Vec<u8>>,
) -> Result<Reply, Denial> {
    body::read_body(req, p, pre_read).await?;
    let identified = identify(req, p.env, p.ctx, p.cfg, &mut p.facts, p.now_ms).await;
    // A refusal is still recorded under what was verified before it (an API key, say).
    p.trail.caller.client_key = p.facts.client_key.clone();
    let caller = identified?;
    p.trail.caller = caller.audit.clone();
    authorize(p, &caller)?;
    let session = match non_empty_header(req, "mcp-session-id") {
        Some(presented) => Some(
            session::unwrap(&p.cfg.token.keys, &p.facts.client_key, &presented)
                .ok_or(Denial::SessionNotFound)?,
        ),
        None => None,
    };
    let (paid, admitted) = match evm::admit(req, p, &caller).await? {
        Some((paid, admitted)) => (Some(paid), admitted),
        None => match by_credential(req, p).await? {
            Some(admitted) => (None, admitted),
            None => (None, by_quota(req, p, &caller).await?),
        },
    };
    // A payment is settled before the origin works for it (`x402.rs`).
    let settled = match paid {
        Some(paid) => evm::settle(p, paid).await?,
        None => None,
    };
    p.trail.caller.admitted_by = admitted.by.into();
    p.trail.remaining = Some(admitted.remaining);
    // What waits on the origin holds the audit rows, cut and redacted, and not the calls'
    // arguments or the payments in `_meta` as parsed (many times a body's bytes), as the quick
    // lane's pending requests do.
    p.prepared = Some(trail::prepare(p.cfg, &p.record()));
    for call in &mut p.calls {
        call.arguments = None;
    }
    // Judged, or never to be (cut from the bytes either way).
    (p.mcp_payment, p.mcp_credential) = (None, None);
    let (cfg, client_key) = (p.cfg, p.facts.client_key.clone());
    let wrap = move |id: &str| session::wrap(&cfg.token.keys, &client_key, id);
    let forward = Forward {
        headers: admitted.headers,
        body: p.body.as_deref(),
        session: session.as_deref(),
        wrap_session: &wrap,
    };
    let served = list_cache::through(req, p, forward).await;
    evm::with_receipt(served, settled).await
}

/// Whether an OAuth caller (or an anonymous one) may make these calls: scopes per tool.
fn authorize(p: &Pass, caller: &Caller) -> Result<(), Denial> {
    let Some(o) = &p.cfg.oauth else {
        return Ok(());
    };
    let scopes = p.route.tool_scopes.as_deref().unwrap_or(&o.tool_scopes);
    oauth::authorize(o, scopes, caller.oauth.as_ref(), &tool_names(&p.calls))
}

/// The credential step: a token or L402 credential pays with `cost` units of its grant, after
/// the per-tool limits agree (a credential pays for the route's quota, never past a limit). A
/// grant with less left falls through to the quota, like no credential at all.
async fn by_credential(req: &Request, p: &mut Pass<'_>) -> Result<Option<Admitted>, Denial> {
    let cost = charge::credential_cost(p.route, &p.calls);
    let credential = match presented(req, p)? {
        Some((credential, claims)) => {
            unless_revoked(p.env, p.ctx, credential.jti(), p.now_ms).await?;
            permitted(p, claims.as_ref())?;
            Some(credential)
        }
        None => None,
    };
    let Some(credential) = credential.filter(|c| c.fits(cost)) else {
        return Ok(None);
    };
    within_limits(p, false).await?;
    p.limits_charged = true;
    // `None` if the grant turned out to have less left (another isolate's use, or a concurrent
    // request of this one).
    credential.spend(p.env, p.ctx, cost, p.now_ms).await
}

/// The credential a request presents, as far as it can be judged with no I/O: an access token
/// (in its header, or in-band where the route takes it), with its claims, or an L402 credential.
fn presented(
    req: &dyn Incoming,
    p: &mut Pass<'_>,
) -> Result<Option<(Credential, Option<AccessClaims>)>, Denial> {
    let header_token = non_empty_header(req, ACCESS_TOKEN_HEADER);
    let in_band = p.in_band_token.take().filter(|_| p.route.in_band);
    if let Some(token) = header_token.or(in_band) {
        let (credential, claims) = token_credential(p.cfg, &p.facts, &token, p.now_ms)?;
        return Ok(Some((credential, Some(claims))));
    }
    let authorization = non_empty_header(req, "authorization")
        .filter(|a| p.cfg.l402.is_some() && oauth::bearer(a).is_none());
    match authorization {
        Some(a) => Ok(l402_credential(p.cfg, &a, p.now_ms)?.map(|c| (c, None))),
        None => Ok(None),
    }
}

/// Whether a token may pay here, for these calls (an L402 credential may pay anywhere).
fn permitted(p: &Pass<'_>, claims: Option<&AccessClaims>) -> Result<(), Denial> {
    let Some(claims) = claims else {
        return Ok(());
    };
    claims
        .pays_on(&p.route.name, p.cfg.routes.len() == 1)
        .map_err(Denial::InvalidToken)?;
    if !claims.permits(&p.calls) {
        return Err(Denial::TokenScope);
    }
    Ok(())
}

/// The per-tool limits of the request's calls: a credential or a payment pays for the route's
/// quota, never past a limit (a limit answers 429). With `ceiling`, the calls also count toward
/// the client's call ceiling, in the same counter call: what bounds the facilitator calls and
/// payment rows one client can cause, paid or not.
async fn within_limits(p: &Pass<'_>, ceiling: bool) -> Result<(), Denial> {
    let mut checks = charge::limit_checks(p.route, &p.calls);
    if ceiling {
        checks.push(call_ceiling_check(&p.cfg.limits, p.calls.len()));
    }
    if checks.is_empty() {
        return Ok(());
    }
    let reply =
        client_counter::check_quota(p.env, &p.facts.client_key, checks.clone(), p.now_ms).await?;
    if reply.decision.allowed {
        return Ok(());
    }
    Err(too_many(&checks, reply.decision, p))
}

/// The quota step, then the answer step when it is spent.
async fn by_quota(req: &Request, p: &mut Pass<'_>, caller: &Caller) -> Result<Admitted, Denial> {
    let (mut checks, shown) = quota_checks(p, caller);
    let cost = checks[0].cost;
    // An over-quota burst: answered from this isolate's memory of the denial, no counter call.
    // Not for a request with a time budget (it changes the offers, and every such denial must
    // count toward a repeat offender's escalation), nor under an unverified key (its address's
    // ceiling is checked and charged first).
    let memorable = memorable(req, caller);
    if memorable {
        if let Some(recalled) = memo::recall(&p.facts.client_key, &p.route.name, cost, p.now_ms) {
            if let Some(denial) = answer::recalled(req, p, recalled) {
                p.trail.remaining = Some(0);
                return Err(denial);
            }
        }
    }
    checks.push(call_ceiling_check(&p.cfg.limits, p.calls.len()));
    // The address ceiling is what one address gets *through* the quota: asked first, charged only
    // once the request is admitted, so one client's denied requests never lock out the others
    // behind its address.
    let ceiling = address_ceiling(p, caller, checks[0].cost);
    if let Some(ceiling) = &ceiling {
        at_address_ceiling(p, ceiling, false).await?;
    }
    // A verified caller's quota is leased to this isolate (`gatehouse_core::metering::lease`):
    // admitted from the lease with no counter call while it lasts. Not under an unverified key,
    // whose address ceiling is charged request by request.
    let leasing = ceiling.is_none();
    if leasing {
        if let Some(admitted) = from_lease(p, &checks, &shown) {
            return Ok(admitted);
        }
    }
    let lease = match leasing {
        true => {
            let (wants, unspent) = leases::asking(&p.facts.client_key, &checks, p.now_ms);
            client_counter::Lease { wants, unspent }
        }
        false => client_counter::Lease::default(),
    };
    let route = Some(p.route.name.as_str());
    let key = &p.facts.client_key;
    let mut reply =
        client_counter::check_route_quota(p.env, key, route, checks.clone(), lease, p.now_ms)
            .await?;
    if reply.decision.allowed && leasing {
        leases::record(key, &checks, &reply.granted, &reply.decision, p.now_ms);
        reply.decision = with_grants(reply.decision, &checks, &reply.granted);
    }
    reply.decision = without_ceiling(reply.decision);
    let remaining = reply.decision.tightest().map(|w| w.remaining);
    if reply.decision.allowed {
        if let Some(ceiling) = &ceiling {
            // Requests racing from one address may all have been asked before any was charged:
            // the charge decides.
            at_address_ceiling(p, ceiling, true).await?;
        }
        return Ok(Admitted {
            headers: quota_headers(&shown, &reply.decision),
            remaining: remaining.unwrap_or(0),
            by: "quota",
        });
    }
    p.trail.remaining = remaining;
    let first_seen_ms = reply.first_seen_ms;
    let denial = answer::answer(req, p, caller, shown, reply).await?;
    if memorable {
        let key = (p.facts.client_key.as_str(), p.route.name.as_str());
        let max_bits = runtime::cached_runtime_policy().pow(p.cfg).max_bits;
        memo::remember(key, cost, first_seen_ms, &denial, (p.now_ms, max_bits));
    }
    Err(denial)
}

/// What the request's calls owe the quota (its tier's, or the route's), and the windows the
/// client is told about: the call ceiling is a backstop, not a quota to plan by.
fn quota_checks(p: &Pass<'_>, caller: &Caller) -> (Vec<Check>, Policy) {
    let policy = caller.tier_policy.as_ref().unwrap_or(&p.route.quota);
    let checks = charge::owed(charge::checks(p.route, policy, &p.calls), p.limits_charged);
    let shown = shown_policy(&checks, p.route);
    (checks, shown)
}

/// Whether a denial may be answered from this isolate's memory of the last one (`memo.rs`).
fn memorable(req: &dyn Incoming, caller: &Caller) -> bool {
    caller.address.is_none() && non_empty_header(req, TIME_BUDGET_HEADER).is_none()
}

/// Admits the request from this isolate's lease of the client's quota, if it covers `checks`.
fn from_lease(p: &Pass<'_>, checks: &[Check], shown: &Policy) -> Option<Admitted> {
    let local = leases::spend(&p.facts.client_key, checks, p.now_ms)?;
    let decision = without_ceiling(local.decision);
    Some(Admitted {
        headers: quota_headers(shown, &decision),
        remaining: decision.tightest().map_or(0, |w| w.remaining),
        by: "quota",
    })
}
