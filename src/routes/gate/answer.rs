//! The answer step (docs/PROTOCOL.md §2, §5): what a spent quota gets. A 402 with challenges
//! (offered again while outstanding), an in-band JSON-RPC error, or a 429; and the same answer
//! again from the isolate's memory of a denial (`gatehouse_core::metering::quota_memo`) during a burst.

use gatehouse_core::metering::exhaustion::{self, ExhaustionFacts};
use gatehouse_core::metering::quota::{Check, Decision, Policy};
use gatehouse_core::metering::quota_memo::Recalled;
use gatehouse_core::policy::runtime::RuntimePolicy;
use gatehouse_core::rails::challenge::{Offer, OfferKind, VERIFY_PATH};
use gatehouse_core::rails::difficulty::{self, DifficultyInputs};
use gatehouse_core::rails::mpp::ACCEPT_PAYMENT_HEADER;
use gatehouse_core::rails::outstanding::Slot;
use gatehouse_core::rails::table::Minting;
use gatehouse_core::wire::denial::{Answer, Denial, Dependency};
use gatehouse_core::wire::headers::{ACCEPT_402_HEADER, TIME_BUDGET_HEADER};
use worker::Request;

use super::caller::Caller;
use super::facts::{non_empty_header, Incoming};
use super::refuse::too_many;
use super::{evm, offers, Pass};
use crate::objects::client_counter::{self, QuotaReply};
use crate::objects::metrics_sink;
use crate::stores::runtime;

fn mpp_box(challenge: gatehouse_core::rails::mpp::MppChallenge) -> Offer {
    Offer::Mpp(Box::new(challenge))
}

/// Where an answer goes: inside MCP, or over HTTP (which decides whether an MPP challenge binds
/// the body).
fn transport(answer: &Answer) -> evm::Transport {
    match answer {
        Answer::InBand { .. } => evm::Transport::Mcp,
        _ => evm::Transport::Http,
    }
}

/// Which answer this request gets for a spent quota.
fn which(req: &dyn Incoming, p: &Pass<'_>, decision: &Decision, first_seen_ms: u64) -> Answer {
    let (user_agent, accepts, protocol_version) = (
        non_empty_header(req, "user-agent"),
        non_empty_header(req, ACCEPT_402_HEADER),
        non_empty_header(req, "mcp-protocol-version"),
    );
    let accepts_payment = non_empty_header(req, ACCEPT_PAYMENT_HEADER).is_some();
    exhaustion::answer(
        p.route,
        &ExhaustionFacts {
            user_agent: user_agent.as_deref(),
            accepts: accepts.as_deref(),
            accepts_payment,
            batch: p.batch,
            calls: &p.calls,
            denied_by: &decision.denied_by,
            first_seen_ms,
            now_ms: p.now_ms,
            protocol_version: protocol_version.as_deref(),
        },
    )
}

/// The answer to a denial recalled from memory; `None` when it needs challenges the memory does
/// not hold (the denial remembered was answered with a 429), so the counter must be asked.
pub(super) fn recalled(req: &dyn Incoming, p: &Pass<'_>, r: Recalled) -> Option<Denial> {
    let answer = which(req, p, &r.decision, r.first_seen_ms);
    let offers = match answer {
        Answer::TooManyRequests => Vec::new(),
        _ if r.offers.is_empty() => return None,
        // The x402 and MPP offers are this request's own (its price; the MPP challenge's body
        // and expiry): made again, never recalled.
        _ => r
            .offers
            .into_iter()
            .filter_map(|o| match o {
                Offer::X402(_) => evm::offer(p).map(Offer::X402),
                Offer::Mpp(_) => evm::mpp_offer(p, transport(&answer)).map(mpp_box),
                other => Some(other),
            })
            .collect(),
    };
    Some(Denial::QuotaExhausted {
        policy: r.shown,
        decision: r.decision,
        offers,
        verify_url: format!("{}{VERIFY_PATH}", p.facts.audience),
        answer,
    })
}

/// The answer step: which answer a spent quota gets, with what challenges.
pub(super) async fn answer(
    req: &Request,
    p: &Pass<'_>,
    caller: &Caller,
    shown: Policy,
    reply: QuotaReply,
) -> Result<Denial, Denial> {
    let answer = which(req, p, &reply.decision, reply.first_seen_ms);
    let offers = match answer {
        Answer::TooManyRequests => Vec::new(),
        _ => {
            // Runtime policy (admin API) bounds the difficulty and may override the offers.
            let runtime = runtime::runtime_policy(p.env, p.now_ms).await?;
            let kinds = runtime.offers().unwrap_or_else(|| p.route.offers.clone());
            let transport = || transport(&answer);
            match offer(req, p, caller, &reply, &runtime, &kinds, transport()).await {
                // A Lightning backend down, and nothing else chosen beside L402 (a time budget
                // only it fitted, say): chosen again without it, which may give a puzzle that
                // fits (a reduced one) or leave x402; a 503 only if even that offers nothing.
                Err(Denial::DependencyUnavailable(Dependency::InvoiceBackend))
                    if kinds.contains(&OfferKind::L402) && kinds.len() > 1 =>
                {
                    let without: Vec<OfferKind> = kinds
                        .iter()
                        .copied()
                        .filter(|k| *k != OfferKind::L402)
                        .collect();
                    offer(req, p, caller, &reply, &runtime, &without, transport()).await?
                }
                other => other?,
            }
        }
    };
    Ok(Denial::QuotaExhausted {
        policy: shown,
        decision: reply.decision,
        offers,
        verify_url: format!("{}{VERIFY_PATH}", p.facts.audience),
        answer,
    })
}

/// The offers of `kinds` for this request: the difficulty chosen, outstanding ones reused, the
/// rest minted.
async fn offer(
    req: &Request,
    p: &Pass<'_>,
    caller: &Caller,
    reply: &QuotaReply,
    runtime: &RuntimePolicy,
    kinds: &[OfferKind],
    transport: evm::Transport,
) -> Result<Vec<Offer>, Denial> {
    let adaptive = p.cfg.adaptive.enabled.then(metrics_sink::adaptive_bits);
    let (kinds, plan) = difficulty::choose(&DifficultyInputs {
        pow: runtime.pow(p.cfg),
        adaptive: adaptive.flatten(),
        recent_denials: reply.recent_denials,
        kinds,
        budget_s: difficulty::parse_budget(non_empty_header(req, TIME_BUDGET_HEADER).as_deref()),
        fallback: p.cfg.budget_fallback.is_some(),
    });
    let ttl_ms = u64::from(p.cfg.challenge_ttl_s) * 1_000;
    let slots = reply.outstanding.slots(&kinds, plan, ttl_ms, p.now_ms);
    mint_budget(p, caller, &slots).await?;
    let to = offers::Recipient {
        client_key: &p.facts.client_key,
        route: &p.route.name,
        x402: evm::offer(p).map(Offer::X402),
        mpp: evm::mpp_offer(p, transport).map(mpp_box),
    };
    offers::build(p.env, p.cfg, &slots, plan, &to, p.now_ms).await
}

/// Under an unverified rate key, every header value is a new client with no outstanding offers,
/// so minting is also charged to the address (`limits::mints_per_address`), then `429`.
async fn mint_budget(p: &Pass<'_>, caller: &Caller, slots: &[Slot]) -> Result<(), Denial> {
    // A stateless offer (x402, MPP) costs nothing to make: no row, no invoice.
    let minted = slots
        .iter()
        .filter(|s| matches!(s, Slot::Mint(k) if k.rail().minting != Minting::Stateless))
        .count() as u32;
    let Some(address) = caller.address.as_ref().filter(|_| minted > 0) else {
        return Ok(());
    };
    let check = Check {
        counter: "mints".into(),
        policy: address.mints.clone(),
        cost: minted,
    };
    let reply =
        client_counter::check_quota(p.env, &address.key, vec![check.clone()], p.now_ms).await?;
    if reply.decision.allowed {
        return Ok(());
    }
    Err(too_many(&[check], reply.decision, p))
}
