//! The gate in front of the origins. It picks the request's route, reads what the request calls
//! (the body of a POST, size-capped, checked against `Mcp-Method`/`Mcp-Name`), establishes who
//! is calling (OAuth, when on), and admits by credential with no I/O, or by the quota. At
//! exhaustion, and only then, it answers with challenges: a 402, an in-band JSON-RPC error for
//! clients that cannot act on a 402, or a 429 for legacy clients (docs/PROTOCOL.md §1, §2, §4, §5).
//! Every tool call, admitted or not, goes to the audit trail.

use gatehouse_core::audit::{records, Caller, Outcome};
use gatehouse_core::challenge::Offer;
use gatehouse_core::config::Config;
use gatehouse_core::denial::{Answer, Denial};
use gatehouse_core::difficulty::{self, escalate};
use gatehouse_core::headers::{ACCEPT_402_HEADER, TIME_BUDGET_HEADER};
use gatehouse_core::mcp::{
    calls, check_headers, check_media_type, take_in_band_token, tool_names, Call, MAX_POLICY_BODY,
};
use gatehouse_core::policy::{charge, route, Route};
use gatehouse_core::quota::{Decision, Policy};
use gatehouse_core::ratelimit::quota_headers;
use gatehouse_core::session;
use worker::{Context, Date, Env, Method, Request, Response};

use crate::admission::{admit_l402, admit_token, Admitted};
use crate::proxy::{self, Forward};
use crate::request_facts::{non_empty_header, RequestFacts};
use crate::{audit_log, body, identity, metrics_sink, offers, operations, quota_do, VERIFY_PATH};

pub const TOKEN_HEADER: &str = "x-access-token";

/// Everything the audit trail wants to know about how a request went.
struct Trail {
    caller: Caller,
    remaining: Option<u32>,
}

pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let mut facts = RequestFacts::read(&req, cfg);
    let (route, rest) =
        route::pick(&cfg.routes, &facts.host, &facts.path).ok_or(Denial::NotFound)?;
    let upstream_path = format!("{rest}{}", facts.query);
    // One reading of the body decides everything, and the origin gets exactly those bytes: a
    // body the gateway cannot read is refused, never forwarded unread (docs/PROTOCOL.md §4).
    let mut body = match req.method() {
        Method::Post => {
            check_media_type(non_empty_header(&req, "content-type").as_deref())
                .map_err(Denial::Body)?;
            Some(body::read_capped(&mut req, MAX_POLICY_BODY).await?)
        }
        _ => None,
    };
    let parsed = body
        .as_deref()
        .map(calls)
        .transpose()
        .map_err(Denial::Body)?;
    let header = |name: &str| non_empty_header(&req, name);
    check_headers(
        header("mcp-method").as_deref(),
        header("mcp-name").as_deref(),
        parsed.as_deref(),
    )
    .map_err(|id| Denial::McpHeaderMismatch { id })?;
    let calls = parsed.unwrap_or_default();
    let mut trail = Trail {
        caller: Caller {
            client_key: facts.client_key.clone(),
            ..Caller::default()
        },
        remaining: None,
    };
    let outcome = admit(
        &mut req,
        env,
        ctx,
        cfg,
        &mut facts,
        route,
        &upstream_path,
        &mut body,
        &calls,
        &mut trail,
        now_ms,
    )
    .await;
    record_metrics(&route.name, &calls, &trail.caller.client_key, &outcome);
    if cfg.audit.enabled {
        // A second clock read, for the audit's latency figure only; no decision depends on it.
        let latency_ms = Date::now().as_millis().saturating_sub(now_ms);
        let (status, challenge) = match &outcome {
            Ok(r) => (r.status_code(), String::new()),
            Err(d) => (d.to_wire().status, challenge_label(d)),
        };
        let result = Outcome {
            status,
            latency_ms,
            remaining: trail.remaining,
            challenge,
        };
        audit_log::write(
            env,
            ctx,
            records(
                &route.name,
                &calls,
                &trail.caller,
                &result,
                now_ms,
                &cfg.audit,
            ),
            now_ms,
        );
    }
    outcome
}

/// Counts the request per route and tool, and what the gateway answered.
fn record_metrics(route: &str, calls: &[Call], identity: &str, outcome: &Result<Response, Denial>) {
    let labels: Vec<&str> = if calls.is_empty() {
        vec!["-"]
    } else {
        calls
            .iter()
            .map(|c| {
                c.name
                    .as_deref()
                    .filter(|_| c.method == "tools/call")
                    .unwrap_or(c.method.as_str())
            })
            .collect()
    };
    metrics_sink::record(|d| {
        for l in &labels {
            d.count("requests", route, l, 1);
        }
        let Err(denial) = outcome else { return };
        match denial {
            Denial::QuotaExhausted { answer, offers, .. } => {
                let name = if *answer == Answer::TooManyRequests {
                    "rate_limited"
                } else {
                    "payment_required"
                };
                for l in &labels {
                    d.count(name, route, l, 1);
                }
                if matches!(answer, Answer::InBand { .. }) {
                    d.count("in_band", route, "-", 1);
                }
                for offer in offers {
                    let kind = match offer {
                        Offer::Pow(p) => {
                            d.difficulty = Some(p.difficulty);
                            "pow"
                        }
                        Offer::L402(_) => "l402",
                    };
                    d.count("offered", route, kind, 1);
                    d.count("challenges_issued", route, kind, 1);
                }
                d.throttle(identity);
            }
            Denial::InvalidToken(r) => d.count("token_failures", "-", r.as_str(), 1),
            Denial::InvalidL402(r) => {
                d.count("token_failures", "-", &format!("l402_{}", r.as_str()), 1)
            }
            Denial::OAuthUnauthorized {
                reason: Some(r), ..
            } => d.count("token_failures", "-", &format!("oauth_{r}"), 1),
            _ => {}
        }
    });
}

fn challenge_label(d: &Denial) -> String {
    match d {
        Denial::QuotaExhausted {
            answer: Answer::PaymentRequired,
            ..
        } => "challenge_402".into(),
        Denial::QuotaExhausted {
            answer: Answer::InBand { .. },
            ..
        } => "challenge_in_band".into(),
        Denial::QuotaExhausted {
            answer: Answer::TooManyRequests,
            ..
        } => "rate_limited_429".into(),
        other => other.log_detail(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn admit(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    facts: &mut RequestFacts,
    route: &Route,
    upstream_path: &str,
    body: &mut Option<Vec<u8>>,
    calls: &[Call],
    trail: &mut Trail,
    now_ms: u64,
) -> Result<Response, Denial> {
    let header = |name: &str| non_empty_header(req, name);
    let (mut token, authorization) = (header(TOKEN_HEADER), header("authorization"));
    let mut route_policy = route.quota.clone();
    if let Some(o) = &cfg.oauth {
        let caller = identity::authenticate(
            env,
            o,
            cfg.local_dev,
            authorization.as_deref().and_then(identity::bearer),
            now_ms,
        )
        .await?;
        let scopes = route.tool_scopes.as_deref().unwrap_or(&o.tool_scopes);
        identity::authorize(o, scopes, caller.as_ref(), &tool_names(calls))?;
        if let Some(id) = &caller {
            // One identity, one quota, wherever it calls from; its tier decides how much.
            facts.client_key = id.rate_key();
            route_policy = o.tier(&id.tier).policy.clone();
            trail.caller = Caller {
                client_key: facts.client_key.clone(),
                subject: Some(id.subject.clone()),
                client_id: id.client_id.clone(),
                tier: Some(id.tier.clone()),
                admitted_by: String::new(),
            };
        }
    }
    if token.is_none() && route.in_band {
        if let Some((t, rest)) = body.as_deref().and_then(take_in_band_token) {
            token = Some(t);
            *body = Some(rest);
        }
    }
    let session = match header("mcp-session-id") {
        Some(presented) => Some(
            session::unwrap(&cfg.token.keys, &facts.client_key, &presented)
                .ok_or(Denial::SessionNotFound)?,
        ),
        None => None,
    };
    let caller_key = facts.client_key.clone();
    let wrap = move |id: &str| session::wrap(&cfg.token.keys, &caller_key, id);
    let forward = |admitted: Admitted, trail: &mut Trail| {
        trail.caller.admitted_by = admitted.by.into();
        trail.remaining = Some(admitted.remaining);
        let f = Forward {
            headers: admitted.headers,
            body: body.as_deref(),
            session: session.as_deref(),
            wrap_session: &wrap,
        };
        proxy::forward(req, route, upstream_path, cfg, f)
    };

    if let Some(token) = token {
        if let Some(admitted) = admit_token(env, ctx, cfg, facts, &token, now_ms).await? {
            if let Some(allowed) = &admitted.tools {
                if tool_names(calls)
                    .iter()
                    .any(|t| !allowed.iter().any(|a| a == t))
                {
                    return Err(Denial::TokenScope);
                }
            }
            return forward(admitted, trail).await;
        }
        // A spent token falls through to the quota, like no token at all.
    } else if let Some(authorization) =
        authorization.filter(|a| cfg.l402.is_some() && identity::bearer(a).is_none())
    {
        if let Some(admitted) = admit_l402(env, ctx, cfg, &authorization, now_ms).await? {
            return forward(admitted, trail).await;
        }
    }

    let mut checks = charge::checks(route, calls);
    checks[0].policy = route_policy;
    let reply = quota_do::check_quota(env, &facts.client_key, checks.clone(), now_ms).await?;
    let shown = Policy::new(
        checks
            .iter()
            .flat_map(|c| c.policy.windows().to_vec())
            .collect(),
    )
    .unwrap_or_else(|| route.quota.clone());
    let remaining = reply.decision.tightest().map(|w| w.remaining);
    if reply.decision.allowed {
        let admitted = Admitted {
            headers: quota_headers(&shown, &reply.decision),
            remaining: remaining.unwrap_or(0),
            by: "quota",
            tools: None,
        };
        return forward(admitted, trail).await;
    }
    trail.remaining = remaining;
    let batch = body
        .as_deref()
        .and_then(|b| b.iter().find(|c| !c.is_ascii_whitespace()))
        == Some(&b'[');
    let answer = answer_for(
        route,
        header("user-agent").as_deref(),
        header(ACCEPT_402_HEADER).as_deref(),
        batch,
        calls,
        reply.first_seen_ms,
        now_ms,
    );
    let offers = match answer {
        Answer::TooManyRequests => Vec::new(),
        _ => {
            // Runtime policy (admin API) decides the difficulty and may override the offers.
            let runtime = operations::runtime_policy(env, now_ms).await?;
            let pow = runtime.pow(cfg);
            // The controller's difficulty (bounded by the runtime policy), raised for repeat offenders.
            let adaptive = cfg
                .adaptive
                .enabled
                .then(metrics_sink::adaptive_bits)
                .flatten();
            let base = adaptive.map_or(pow.base_bits, |b| b.clamp(pow.min_bits, pow.max_bits));
            let bits = escalate(base, reply.recent_denials, pow.max_bits);
            let kinds = runtime.offers().unwrap_or_else(|| route.offers.clone());
            let budget = header(TIME_BUDGET_HEADER)
                .and_then(|b| b.trim().parse::<f64>().ok())
                .filter(|b| b.is_finite() && *b >= 0.0);
            let (kinds, plan) =
                difficulty::plan(&kinds, bits, budget, cfg.budget_fallback.is_some());
            offers::build(env, cfg, &kinds, plan, facts, now_ms).await?
        }
    };
    Err(exhausted(shown, reply.decision, offers, facts, answer))
}

fn exhausted(
    policy: Policy,
    decision: Decision,
    offers: Vec<gatehouse_core::challenge::Offer>,
    facts: &RequestFacts,
    answer: Answer,
) -> Denial {
    Denial::QuotaExhausted {
        policy,
        decision,
        offers,
        verify_url: format!("{}{VERIFY_PATH}", facts.audience),
        answer,
    }
}

/// How to tell this client that its quota is spent: a legacy client, or one still in its grace
/// period, gets a 429; a client that has not said it handles HTTP 402, on a route with in-band
/// challenges, gets them as JSON-RPC errors; everyone else gets the 402.
fn answer_for(
    route: &Route,
    user_agent: Option<&str>,
    accepts: Option<&str>,
    batch: bool,
    calls: &[Call],
    first_seen_ms: u64,
    now_ms: u64,
) -> Answer {
    let legacy_agent =
        user_agent.is_some_and(|ua| route.legacy.user_agents.iter().any(|p| p.matches(ua)));
    let in_grace = now_ms.saturating_sub(first_seen_ms) < u64::from(route.legacy.grace_s) * 1_000;
    if legacy_agent || in_grace {
        return Answer::TooManyRequests;
    }
    let accepts_402 = accepts.is_some_and(|v| v.split(',').any(|p| p.trim() == "402"));
    let ids: Vec<_> = calls.iter().filter_map(|c| c.id.clone()).collect();
    if route.in_band && !accepts_402 && !ids.is_empty() {
        return Answer::InBand { ids, batch };
    }
    Answer::PaymentRequired
}
