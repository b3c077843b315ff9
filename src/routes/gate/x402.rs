//! Admission by a payment on the EIP-3009 rail (docs/PROTOCOL.md §8), whichever protocol carries
//! it: x402 v2 (`PAYMENT-SIGNATURE`, or `_meta["x402/payment"]` inside MCP) or MPP
//! (`Authorization: Payment`, or `_meta["org.paymentauth/credential"]`; `gatehouse_core::rails::mpp`).
//! A request that carries one pays for itself, per call: check it against this request's
//! requirement, claim it once, verify it with the facilitator, settle it, and only then serve,
//! answering with the protocol's receipt (`PAYMENT-RESPONSE`, `Payment-Receipt`, or the result's
//! `_meta`). The two protocols differ only in how the payment comes and how answers go back.
//!
//! - Settlement comes before the origin. `/verify` only sees that the funds are there at that
//!   instant and holds nothing: were the origin called first, a payer holding the price of one
//!   call could send many payments at once, or move its funds away before settlement, and have
//!   the origin run every call for one payment or none. So the origin works only for money that
//!   has moved; the price is that a call the origin then fails (502, 504, an error) stays paid.
//! - The claim (`stores::x402_payments`) comes before the facilitator, so two copies of one
//!   payload never both reach it; a payment refused at `/verify` gives its claim back.
//! - A payment refused at `/verify` or at `/settle` counts toward the client's budget of refused
//!   payments (`REDEEM_PER_MINUTE`); past it, `429` and no facilitator call from this isolate.
//! - A facilitator down or slow at `/verify` or `/settle` is a 503 with `Retry-After`, and the
//!   origin is not called.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::StreamExt;
use gatehouse_core::mcp::revision::Revision;
use gatehouse_core::mcp::{MAX_POLICY_BODY, X402_PAYMENT_RESPONSE_META_KEY};
use gatehouse_core::metering::quota::{Check, Decision};
use gatehouse_core::policy::charge;
use gatehouse_core::rails::challenge::OfferKind;
use gatehouse_core::rails::mpp::binding::body_digest;
use gatehouse_core::rails::mpp::credential::{self as mpp_credential, Expected};
use gatehouse_core::rails::mpp::refusal::MppRefusal;
use gatehouse_core::rails::mpp::{self, Issue, MppChallenge};
use gatehouse_core::rails::x402::facilitator::failed_settlement;
use gatehouse_core::rails::x402::mcp::{
    json_with_settlement, payload_from_meta, InBandReply, SseSettlement,
};
use gatehouse_core::rails::x402::payload::{self, Payment};
use gatehouse_core::rails::x402::{
    Refusal, Rejection, Requirement, X402Offer, PAYMENT_RESPONSE_HEADER, PAYMENT_SIGNATURE_HEADER,
};
use gatehouse_core::wire::denial::Denial;
use serde_json::Value;
use worker::{Request, Response};

use crate::objects::client_counter;
use crate::platform::body::{self, Peeked};

use super::caller::Caller;
use super::credential::Admitted;
use super::facts::non_empty_header;
use super::Pass;
use crate::platform::facilitator::{self, Failed};
use crate::stores::runtime;
use crate::stores::x402_payments::{self as payments, Claim};

/// How a payment came: its protocol, and inside MCP the request it answers. Refusals and the
/// receipt go back the same way.
#[derive(Clone)]
struct Wire {
    in_band: Option<InBandReply>,
    /// MPP: the challenge this request would be offered now (for a refusal), and the id of the
    /// one the credential answered once judged (the receipt names it).
    mpp: Option<(Option<MppChallenge>, String)>,
}

/// A payment verified and claimed, waiting to be settled once the origin has answered.
pub(super) struct Paid {
    payment: Payment,
    offer: X402Offer,
    wire: Wire,
}

impl Paid {
    fn requirement(&self) -> &Requirement {
        &self.offer.requirement
    }

    fn refusal(&self, rejection: Rejection) -> Denial {
        refusal(&self.offer, rejection, &self.wire)
    }
}

fn refusal(offer: &X402Offer, rejection: Rejection, wire: &Wire) -> Denial {
    if let Some((fresh, _)) = &wire.mpp {
        return Denial::InvalidMpp(Box::new(MppRefusal {
            rejection,
            fresh: fresh.clone(),
            in_band: wire.in_band.clone(),
        }));
    }
    Denial::InvalidX402(Box::new(Refusal {
        rejection,
        offer: Some(offer.clone()),
        settlement: None,
        in_band: wire.in_band.clone(),
    }))
}

/// The payment a request carries, undecoded where it is MPP's (judging it needs the offer): the
/// HTTP headers, or, for a single `tools/call`, its `params._meta` (whose refusals and receipt
/// then go back inside MCP too). An x402 payment is taken before an MPP one; either way only one.
fn carried(req: &Request, p: &Pass<'_>) -> Option<(Result<Value, Rejection>, Wire)> {
    let http = |mpp| Wire { in_band: None, mpp };
    if let Some(header) = non_empty_header(req, PAYMENT_SIGNATURE_HEADER) {
        return Some((payload::decode(&header), http(None)));
    }
    let authorization = non_empty_header(req, "authorization");
    if let Some(credential) = authorization
        .as_deref()
        .and_then(mpp_credential::from_header)
    {
        return Some((credential, http(Some((None, String::new())))));
    }
    let [call] = p.calls.as_slice() else {
        return None;
    };
    let id = call
        .id
        .clone()
        .filter(|_| call.method == "tools/call" && !p.batch)?;
    let revision = Revision::of(
        non_empty_header(req, "mcp-protocol-version").as_deref(),
        call.revision.as_deref(),
    );
    let in_band = Some(InBandReply { id, revision });
    if let Some(meta) = p.mcp_payment.as_ref() {
        return Some((payload_from_meta(meta), Wire { in_band, mpp: None }));
    }
    let credential = p.mcp_credential.as_ref()?;
    let wire = Wire {
        in_band,
        mpp: Some((None, String::new())),
    };
    Some((mpp_credential::from_meta(credential), wire))
}

/// Over HTTP an MPP challenge binds the body it was asked for; inside MCP it cannot, since the
/// retry's body carries the credential.
pub(super) enum Transport {
    Http,
    Mcp,
}

/// The x402 offer of this request, if x402 is configured: its amount is the request's cost.
pub(super) fn offer(p: &Pass) -> Option<X402Offer> {
    let x = p.cfg.x402.as_ref()?;
    Some(X402Offer {
        resource: format!("{}{}", p.facts.audience, p.facts.path),
        requirement: x
            .settings
            .requirement(charge::credential_cost(p.route, &p.calls)),
    })
}

/// The MPP challenge of this request for `transport`, on the x402 rail: the same requirement,
/// bound to this route, this host and (over HTTP) this body, for the challenge TTL.
pub(super) fn mpp_offer(p: &Pass, transport: Transport) -> Option<MppChallenge> {
    let x = p.cfg.x402.as_ref()?;
    let chain_id = mpp::chain_id(&x.settings.network)?;
    let requirement = x
        .settings
        .requirement(charge::credential_cost(p.route, &p.calls));
    Some(MppChallenge::issue(&Issue {
        keys: &p.cfg.token.keys,
        realm: &p.facts.host,
        route: &p.route.name,
        chain_id,
        requirement: &requirement,
        expires_ms: p.now_ms + u64::from(p.cfg.challenge_ttl_s) * 1_000,
        digest: match transport {
            Transport::Http => Some(body_digest(p.body.as_deref().unwrap_or_default())),
            Transport::Mcp => None,
        },
    }))
}

/// An MPP credential judged against this request's challenge (`mpp::credential`): the x402
/// `PaymentPayload` it carries, and the challenge id for the receipt.
fn judge_mpp(
    p: &Pass<'_>,
    credential: Value,
    offer: &X402Offer,
    wire: &mut Wire,
) -> Result<Value, Rejection> {
    let chain_id = p
        .cfg
        .x402
        .as_ref()
        .and_then(|x| mpp::chain_id(&x.settings.network))
        .ok_or(Rejection::MethodUnsupported)?;
    let accepted = mpp_credential::accept(
        &credential,
        &Expected {
            keys: &p.cfg.token.keys,
            realm: &p.facts.host,
            route: &p.route.name,
            chain_id,
            requirement: &offer.requirement,
            body: p.body.as_deref().unwrap_or_default(),
            now_ms: p.now_ms,
        },
    )?;
    if let Some((_, id)) = wire.mpp.as_mut() {
        *id = accepted.challenge_id;
    }
    Ok(accepted.payload)
}

/// Admits the request on the payment it carries, if it carries one; `None` if it carries none
/// (or x402 is not configured, when the header is only stripped).
pub(super) async fn admit(
    req: &Request,
    p: &Pass<'_>,
    caller: &Caller,
) -> Result<Option<(Paid, Admitted)>, Denial> {
    let Some((decoded, mut wire)) = carried(req, p) else {
        return Ok(None);
    };
    let (Some(x), Some(offer)) = (p.cfg.x402.as_ref(), offer(p)) else {
        return Ok(None);
    };
    // Only where its protocol is offered now: on this route, unless the operator's runtime
    // policy withdrew it. Elsewhere the payment is not taken (and never forwarded).
    let runtime = runtime::runtime_policy(p.env, p.now_ms).await?;
    let offered = runtime.offers().unwrap_or_else(|| p.route.offers.clone());
    let kind = match wire.mpp {
        Some(_) => OfferKind::Mpp,
        None => OfferKind::X402,
    };
    if !offered.contains(&kind) {
        return Ok(None);
    }
    if let Some((fresh, _)) = wire.mpp.as_mut() {
        let transport = match wire.in_band {
            Some(_) => Transport::Mcp,
            None => Transport::Http,
        };
        *fresh = mpp_offer(p, transport);
    }
    let decoded = match (decoded, wire.mpp.is_some()) {
        (Ok(credential), true) => judge_mpp(p, credential, &offer, &mut wire),
        (decoded, _) => decoded,
    };
    let refuse = |rejection| refusal(&offer, rejection, &wire);
    let payment = decoded
        .and_then(|v| payload::check(v, &offer.requirement, p.now_ms / 1_000))
        .map_err(refuse)?;
    // Before the claim row and the facilitator: a payload need not be valid to cost those, so
    // every attempt counts toward the client's call ceiling (`CALL_CEILING_PER_MINUTE`) and,
    // under an unverified rate key, its address's.
    super::within_limits(p, true).await?;
    super::within_address_ceiling(p, caller, 1).await?;
    let claim = Claim {
        client_key: &p.facts.client_key,
        route: &p.route.name,
        amount: offer.requirement.amount,
    };
    if let Some(blocked) = refused_recently(p) {
        return Err(blocked);
    }
    if !payments::claim(p.env, &payment, &claim, p.now_ms).await? {
        count_refusal(p).await?;
        return Err(refuse(Rejection::Replayed));
    }
    if let Err(failed) = facilitator::verify(x, &payment, &offer.requirement).await {
        payments::release(p.env, &payment.id).await;
        return Err(match failed {
            Failed::Refused(rejection) => {
                count_refusal(p).await?;
                refuse(rejection)
            }
            Failed::Unavailable(denial) => denial,
        });
    }
    let admitted = Admitted {
        headers: Vec::new(),
        remaining: 0,
        by: "x402",
    };
    Ok(Some((
        Paid {
            payment,
            offer,
            wire,
        },
        admitted,
    )))
}

/// Clients past their budget of refused payments, until when, and the denial that said so.
const REFUSED_ENTRIES: usize = 4_096;

thread_local! {
    static REFUSED: RefCell<HashMap<String, (u64, Decision)>> = RefCell::new(HashMap::new());
}

fn refusals_check(p: &Pass<'_>) -> Check {
    Check {
        counter: "x402_refused".into(),
        policy: p.cfg.limits.redemptions.clone(),
        cost: 1,
    }
}

/// A client that spent its budget of refused payments (`REDEEM_PER_MINUTE`, like failed
/// redemptions) gets 429 from this isolate without a claim row or a facilitator call.
fn refused_recently(p: &Pass<'_>) -> Option<Denial> {
    let (until, decision) = REFUSED.with(|r| r.borrow().get(&p.facts.client_key).cloned())?;
    (p.now_ms < until).then(|| super::refuse::too_many(&[refusals_check(p)], decision, p))
}

/// Counts a payment refused after it cost a claim row or a facilitator call; past the budget,
/// the client is told 429 and this isolate stops asking the facilitator for it.
async fn count_refusal(p: &Pass<'_>) -> Result<(), Denial> {
    let check = refusals_check(p);
    let reply =
        client_counter::check_quota(p.env, &p.facts.client_key, vec![check.clone()], p.now_ms)
            .await?;
    if reply.decision.allowed {
        return Ok(());
    }
    let wait_ms = u64::from(reply.decision.retry_after_s.unwrap_or(1)) * 1_000;
    REFUSED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() >= REFUSED_ENTRIES {
            r.retain(|_, (until, _)| *until > p.now_ms);
        }
        if r.len() < REFUSED_ENTRIES {
            let entry = (p.now_ms + wait_ms, reply.decision.clone());
            r.insert(p.facts.client_key.clone(), entry);
        }
    });
    Err(super::refuse::too_many(&[check], reply.decision, p))
}

/// What a settled payment leaves for the answer: the receipt header (`PAYMENT-RESPONSE` for
/// x402, `Payment-Receipt` for MPP) and, for a payment made inside MCP, the receipt for the
/// result's `_meta` under the protocol's key.
pub(super) struct Settled {
    receipt: (&'static str, String),
    in_band: Option<(InBandReply, &'static str, Value)>,
}

/// Settles the payment before the origin is asked; the request is refused if it does not settle.
pub(super) async fn settle(p: &Pass<'_>, paid: Paid) -> Result<Option<Settled>, Denial> {
    let Some(x) = p.cfg.x402.as_ref() else {
        return Ok(None);
    };
    match facilitator::settle(x, &paid.payment, paid.requirement()).await {
        Ok(settlement) => {
            payments::record(p.env, &paid.payment.id, Some(&settlement.transaction)).await;
            let (header, key, receipt) = match &paid.wire.mpp {
                Some((_, challenge_id)) => {
                    let receipt = mpp::receipt(&settlement.transaction, challenge_id, p.now_ms);
                    let header = (mpp::RECEIPT_HEADER, mpp::receipt_header(&receipt));
                    (header, mpp::RECEIPT_META_KEY, receipt)
                }
                None => (
                    (PAYMENT_RESPONSE_HEADER, settlement.header()),
                    X402_PAYMENT_RESPONSE_META_KEY,
                    settlement.to_json(),
                ),
            };
            Ok(Some(Settled {
                receipt: header,
                in_band: paid.wire.in_band.map(|reply| (reply, key, receipt)),
            }))
        }
        Err(Failed::Refused(rejection)) => {
            payments::record(p.env, &paid.payment.id, None).await;
            count_refusal(p).await?;
            let reason = rejection.code().to_string();
            let settlement = failed_settlement(&reason, &x.settings.network, &paid.payment.payer);
            let Denial::InvalidX402(mut refusal) = paid.refusal(rejection) else {
                return Err(Denial::Internal);
            };
            refusal.settlement = Some(settlement);
            Err(Denial::InvalidX402(refusal))
        }
        Err(Failed::Unavailable(denial)) => {
            // It may have settled after all: the payload is spent, never to be tried again.
            payments::record(p.env, &paid.payment.id, None).await;
            Err(denial)
        }
    }
}

/// The origin's answer to a settled payment, with its receipt: the header, and for a payment
/// made inside MCP the result's `_meta["x402/payment-response"]`, spliced into the origin's bytes:
/// into a JSON answer of at most `MAX_POLICY_BODY` (a longer one passes on as it comes, with the
/// header alone), or into the SSE event that carries the result, as the stream passes
/// (`x402::mcp::SseSettlement`: nothing waits for the stream to end). Any other answer keeps the
/// header alone.
pub(super) async fn with_receipt(
    served: Result<Response, Denial>,
    settled: Option<Settled>,
) -> Result<Response, Denial> {
    let (mut response, settled) = match (served, settled) {
        (Ok(response), Some(settled)) => (response, settled),
        (served, _) => return served,
    };
    response
        .headers_mut()
        .set(settled.receipt.0, &settled.receipt.1)
        .map_err(|_| Denial::Internal)?;
    let Some((reply, key, settlement)) = settled.in_band else {
        return Ok(response);
    };
    let kind = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let (headers, status) = (response.headers().clone(), response.status_code());
    let rebuilt = if kind.starts_with("text/event-stream") {
        let stream = response.stream().map_err(|_| Denial::Internal)?;
        let rewriter = SseSettlement::new(reply.id, key, settlement);
        let passing = futures_util::stream::unfold(
            (stream, rewriter, false),
            |(mut stream, mut rewriter, ended)| async move {
                if ended {
                    return None;
                }
                match stream.next().await {
                    Some(Ok(chunk)) => Some((Ok(rewriter.feed(&chunk)), (stream, rewriter, false))),
                    Some(Err(e)) => Some((Err(e), (stream, rewriter, true))),
                    None => Some((Ok(rewriter.finish()), (stream, rewriter, true))),
                }
            },
        );
        Response::from_stream(passing).map_err(|_| Denial::Internal)?
    } else if kind.starts_with("application/json") {
        match body::peek_response(&mut response, MAX_POLICY_BODY).await? {
            Peeked::Whole(body) => {
                let body = json_with_settlement(&body, &reply.id, key, &settlement).unwrap_or(body);
                Response::from_bytes(body).map_err(|_| Denial::Internal)?
            }
            Peeked::Longer(read, rest) => {
                let head = futures_util::stream::once(async move { Ok(read) });
                Response::from_stream(head.chain(rest)).map_err(|_| Denial::Internal)?
            }
        }
    } else {
        return Ok(response);
    };
    headers
        .delete("content-length")
        .map_err(|_| Denial::Internal)?;
    Ok(rebuilt.with_status(status).with_headers(headers))
}
