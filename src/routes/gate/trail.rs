//! What a request through the gate leaves behind: metrics per route and tool, and the audit
//! trail's records (`gatehouse_core::audit`). Neither ever fails the request.

use gatehouse_core::audit::{records, Caller, Outcome};
use gatehouse_core::config::Config;
use gatehouse_core::mcp::Call;
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
    record_metrics(r.route, r.calls, &r.trail.caller.client_key, outcome);
    if !cfg.audit.enabled {
        return;
    }
    // A second clock read, for the audit's latency figure only; no decision depends on it.
    let latency_ms = (worker::js_sys::Date::now() as u64).saturating_sub(r.now_ms);
    let (status, challenge) = match outcome {
        Ok(status) => (status, String::new()),
        Err(d) => (d.to_wire().status, challenge_label(d)),
    };
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

/// Counts the request per route and tool, and what the gateway answered.
fn record_metrics(route: &str, calls: &[Call], identity: &str, outcome: Result<u16, &Denial>) {
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
