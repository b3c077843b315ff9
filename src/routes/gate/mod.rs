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
mod refuse;
pub mod trail;
pub mod usage;

use gatehouse_core::config::Config;
use gatehouse_core::credentials::session;
use gatehouse_core::mcp::{
    calls, check_content_encoding, check_headers, check_media_type, is_batch, take_in_band_token,
    take_x402_payment, tool_names, Call, MAX_POLICY_BODY,
};
use gatehouse_core::metering::lease::with_grants;
use gatehouse_core::metering::limits::{call_ceiling_check, without_ceiling};
use gatehouse_core::metering::ratelimit::quota_headers;
use gatehouse_core::policy::charge;
use gatehouse_core::policy::{route, Route};
use gatehouse_core::wire::denial::Denial;
use gatehouse_core::wire::headers::{ACCESS_TOKEN_HEADER, TIME_BUDGET_HEADER};
use worker::{Context, Env, Method, Request};

use crate::objects::client_counter;
use crate::platform::body;
use crate::platform::proxy::Forward;
use crate::platform::reply::Reply;
use crate::stores::runtime;
use caller::{identify, Caller};
use ceiling::{address_ceiling, at_address_ceiling};
use credential::{check_l402, check_token, Admitted};
use facts::{non_empty_header, RequestFacts};
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
}

pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
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
    let mut pass = Pass {
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
    };
    let outcome = run(&mut req, &mut pass).await;
    let record = trail::Request {
        route: &route.name,
        calls: &pass.calls,
        trail: &pass.trail,
        now_ms,
    };
    trail::leave(env, ctx, cfg, &record, &outcome);
    outcome
}

async fn run(req: &mut Request, p: &mut Pass<'_>) -> Result<Reply, Denial> {
    read_body(req, p).await?;
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

/// The body step: one reading of a POST body decides everything, and the origin gets exactly
/// those bytes. A body the gateway cannot read is refused, never forwarded unread
/// (docs/PROTOCOL.md §4).
async fn read_body(req: &mut Request, p: &mut Pass<'_>) -> Result<(), Denial> {
    if req.method() != Method::Post {
        return Ok(());
    }
    check_media_type(non_empty_header(req, "content-type").as_deref()).map_err(Denial::Body)?;
    check_content_encoding(non_empty_header(req, "content-encoding").as_deref())
        .map_err(Denial::Body)?;
    let mut raw = body::read_capped(req, MAX_POLICY_BODY).await?;
    let parsed = calls(&raw).map_err(Denial::Body)?;
    check_headers(
        non_empty_header(req, "mcp-method").as_deref(),
        non_empty_header(req, "mcp-name").as_deref(),
        Some(&parsed),
    )
    .map_err(|id| Denial::McpHeaderMismatch { id })?;
    if parsed.len() > p.cfg.limits.max_batch_calls {
        return Err(Denial::TooManyCalls {
            limit: p.cfg.limits.max_batch_calls,
        });
    }
    // An in-band token is a credential for the gateway: it never reaches the origin, whether or
    // not this route takes tokens in-band and whatever header came with it.
    if let Some((token, rest)) = take_in_band_token(&raw) {
        p.in_band_token = Some(token);
        raw = rest;
    }
    // So is a payment in `_meta`: the gateway takes it, and the origin never sees it.
    if let Some((payment, rest)) = take_x402_payment(&raw) {
        p.mcp_payment = Some(payment);
        raw = rest;
    }
    if let Some((credential, rest)) = gatehouse_core::rails::mpp::credential::take_from_body(&raw) {
        p.mcp_credential = Some(credential);
        raw = rest;
    }
    p.batch = is_batch(&raw);
    p.calls = parsed;
    p.body = Some(raw);
    Ok(())
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
    let header_token = non_empty_header(req, ACCESS_TOKEN_HEADER);
    let in_band = p.in_band_token.take().filter(|_| p.route.in_band);
    let credential = if let Some(token) = header_token.or(in_band) {
        let (credential, claims) =
            check_token(p.env, p.ctx, p.cfg, &p.facts, &token, p.now_ms).await?;
        claims
            .pays_on(&p.route.name, p.cfg.routes.len() == 1)
            .map_err(Denial::InvalidToken)?;
        if !claims.permits(&p.calls) {
            return Err(Denial::TokenScope);
        }
        Some(credential)
    } else {
        let authorization = non_empty_header(req, "authorization")
            .filter(|a| p.cfg.l402.is_some() && oauth::bearer(a).is_none());
        match authorization {
            Some(a) => check_l402(p.env, p.ctx, p.cfg, &a, p.now_ms).await?,
            None => None,
        }
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
    let policy = caller.tier_policy.as_ref().unwrap_or(&p.route.quota);
    let mut checks = charge::owed(charge::checks(p.route, policy, &p.calls), p.limits_charged);
    // The windows a client is told about; the call ceiling is a backstop, not a quota to plan by.
    let shown = shown_policy(&checks, p.route);
    let cost = checks[0].cost;
    // An over-quota burst: answered from this isolate's memory of the denial, no counter call.
    // Not for a request with a time budget (it changes the offers, and every such denial must
    // count toward a repeat offender's escalation), nor under an unverified key (its address's
    // ceiling is checked and charged first).
    let memorable = caller.address.is_none() && non_empty_header(req, TIME_BUDGET_HEADER).is_none();
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
        if let Some(local) = leases::spend(&p.facts.client_key, &checks, p.now_ms) {
            let decision = without_ceiling(local.decision);
            return Ok(Admitted {
                headers: quota_headers(&shown, &decision),
                remaining: decision.tightest().map_or(0, |w| w.remaining),
                by: "quota",
            });
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
