//! What a request through the gate leaves behind: metrics per route and tool, and the audit
//! trail's records (`gatehouse_core::audit`). Neither ever fails the request.

use gatehouse_core::audit::bounds::{cut, MAX_FIELD_BYTES};
use gatehouse_core::audit::{audited_calls, records, settle, Caller, Outcome, Record};
use gatehouse_core::config::Config;
use gatehouse_core::mcp::Call;
use gatehouse_core::metrics::bounds::MAX_LABEL_BYTES;
use gatehouse_core::metrics::SERVED_BITS;
use gatehouse_core::rails::challenge::Offer;
use gatehouse_core::rails::controller::ControllerCall;
use gatehouse_core::wire::denial::{Answer, Denial};
use worker::{Context, Env};

use crate::objects::metrics_sink;
use crate::stores::{audit, runtime};

/// Everything the audit trail wants to know about how a request went.
#[derive(Default)]
pub struct Trail {
    pub caller: Caller,
    pub remaining: Option<u32>,
}

pub struct Request<'a> {
    pub route: &'a str,
    pub calls: &'a [Call],
    pub trail: &'a Trail,
    pub now_ms: u64,
}

/// Records the request's metrics and, when the audit is on, its audit records.
/// `outcome` is the answer's status, or the refusal.
pub fn leave(env: &Env, ctx: &Context, cfg: &Config, r: &Request, outcome: Result<u16, &Denial>) {
    record_metrics(
        r.route,
        &labels(r.calls),
        &r.trail.caller.client_key,
        outcome,
    );
    if !cfg.audit.enabled {
        return;
    }
    let (status, latency_ms, challenge) = ended(r.now_ms, outcome);
    let result = Outcome {
        status,
        latency_ms,
        remaining: r.trail.remaining,
        challenge,
    };
    let rows = records(
        r.route,
        r.calls,
        &r.trail.caller,
        &result,
        r.now_ms,
        &cfg.audit,
    );
    audit::write(env, ctx, rows, r.now_ms);
}

/// The answer's status, the audit's latency figure and its challenge label.
fn ended(now_ms: u64, outcome: Result<u16, &Denial>) -> (u16, u64, String) {
    // A second clock read, for the audit's latency figure only; no decision depends on it.
    let latency_ms = (worker::js_sys::Date::now() as u64).saturating_sub(now_ms);
    match outcome {
        Ok(status) => (status, latency_ms, String::new()),
        Err(d) => (d.to_wire().status, latency_ms, challenge_label(d)),
    }
}

/// What a request leaves behind, made before its answer is known (the quick lane's, while its
/// origin works): the metrics labels and the audit rows, cut and redacted, so that what waits
/// holds these and not the calls as parsed. The rows are those of an answered request, settled
/// once the status is in (`gatehouse_core::audit::settle`).
pub struct Prepared {
    route: String,
    labels: Vec<String>,
    client_key: String,
    rows: Option<(Vec<Record>, usize)>,
    remaining: Option<u32>,
    now_ms: u64,
}

impl Prepared {
    /// About what it holds, for the lane's budget: every field of a row is cut (its arguments to
    /// `AUDIT_MAX_ARG_BYTES`, the rest to `MAX_FIELD_BYTES`).
    pub fn bytes(&self) -> usize {
        let rows = self.rows.iter().flat_map(|(rows, _)| rows);
        let rows: usize = rows.map(|r| r.arguments.len() + 8 * MAX_FIELD_BYTES).sum();
        rows + self.labels.iter().map(String::len).sum::<usize>()
    }
}

pub fn prepare(cfg: &Config, r: &Request) -> Prepared {
    let rows = cfg.audit.enabled.then(|| {
        let answered = Outcome {
            status: 200,
            latency_ms: 0,
            remaining: r.trail.remaining,
            challenge: String::new(),
        };
        let rows = records(
            r.route,
            r.calls,
            &r.trail.caller,
            &answered,
            r.now_ms,
            &cfg.audit,
        );
        (rows, audited_calls(r.calls))
    });
    Prepared {
        route: r.route.to_string(),
        labels: labels(r.calls),
        client_key: r.trail.caller.client_key.clone(),
        rows,
        remaining: r.trail.remaining,
        now_ms: r.now_ms,
    }
}

/// [`leave`] for a request prepared before its answer: the same metrics and rows.
pub fn finish(env: &Env, ctx: &Context, p: Prepared, outcome: Result<u16, &Denial>) {
    record_metrics(&p.route, &p.labels, &p.client_key, outcome);
    let Some((rows, audited)) = p.rows else {
        return;
    };
    let (status, latency_ms, challenge) = ended(p.now_ms, outcome);
    let result = Outcome {
        status,
        latency_ms,
        remaining: p.remaining,
        challenge,
    };
    audit::write(env, ctx, settle(rows, audited, &result), p.now_ms);
}

/// What every request of any endpoint leaves for later: the metrics, shipped when due (with the
/// difficulty controller's bounds, when it runs).
pub fn ship_metrics(env: &Env, ctx: &Context, cfg: &Config, now_ms: u64) {
    let controller = cfg.adaptive.enabled.then(|| {
        let pow = runtime::cached_runtime_policy().pow(cfg);
        ControllerCall {
            min: pow.min_bits,
            base: pow.base_bits,
            max: pow.max_bits,
            target_ms: cfg.adaptive.target_solve_ms,
            interval_ms: u64::from(cfg.adaptive.interval_s) * 1_000,
        }
    });
    metrics_sink::maybe_flush(env, ctx, now_ms, controller);
}

/// The metrics label of each call: the tool for a tool call, else the method (cut as the metrics
/// cut them).
fn labels(calls: &[Call]) -> Vec<String> {
    if calls.is_empty() {
        return vec!["-".into()];
    }
    let label = |c: &Call| {
        c.name
            .as_deref()
            .filter(|_| c.method == "tools/call")
            .unwrap_or(c.method.as_str())
            .to_string()
    };
    calls
        .iter()
        .map(|c| cut(&label(c), MAX_LABEL_BYTES).to_string())
        .collect()
}

/// Counts the request per route and tool, and what the gateway answered.
fn record_metrics(route: &str, labels: &[String], identity: &str, outcome: Result<u16, &Denial>) {
    metrics_sink::record(|d| {
        for l in labels {
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
                for l in labels {
                    d.count(name, route, l, 1);
                }
                if matches!(answer, Answer::InBand { .. }) {
                    d.count("in_band", route, "-", 1);
                }
                for offer in offers {
                    let kind = match offer {
                        Offer::Pow(p) => {
                            d.difficulty = Some(p.difficulty);
                            d.count(SERVED_BITS, "-", &p.difficulty.to_string(), 1);
                            "pow"
                        }
                        Offer::L402(_) => "l402",
                        Offer::X402(_) => "x402",
                        Offer::Mpp(_) => "mpp",
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
            Denial::InvalidApiKey(r) => {
                d.count("token_failures", "-", &format!("api_key_{}", r.as_str()), 1)
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
