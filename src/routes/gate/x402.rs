//! Admission by x402 payment (docs/PROTOCOL.md §8; x402 v2 HTTP transport and `exact` scheme):
//! a request that carries `PAYMENT-SIGNATURE` pays for itself, per call: check the payload
//! against this request's requirement, claim it once, verify it with the facilitator, settle it,
//! and only then serve, answering with `PAYMENT-RESPONSE`.
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
use gatehouse_core::challenge::OfferKind;
use gatehouse_core::denial::Denial;
use gatehouse_core::mcp::revision::Revision;
use gatehouse_core::mcp::MAX_POLICY_BODY;
use gatehouse_core::policy::charge;
use gatehouse_core::quota::{Check, Decision};
use gatehouse_core::x402::facilitator::failed_settlement;
use gatehouse_core::x402::mcp::{
    json_with_settlement, payload_from_meta, InBandReply, SseSettlement,
};
use gatehouse_core::x402::payload::{self, Payment};
use gatehouse_core::x402::{
    Refusal, Rejection, Requirement, X402Offer, PAYMENT_RESPONSE_HEADER, PAYMENT_SIGNATURE_HEADER,
};
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

/// A payment verified and claimed, waiting to be settled once the origin has answered.
pub(super) struct Paid {
    payment: Payment,
    offer: X402Offer,
    /// Where the payment came inside MCP, the answer carries its settlement there too.
    in_band: Option<InBandReply>,
}

impl Paid {
    fn requirement(&self) -> &Requirement {
        &self.offer.requirement
    }

    fn refusal(&self, rejection: Rejection) -> Denial {
        refusal(&self.offer, rejection, self.in_band.clone())
    }
}

fn refusal(offer: &X402Offer, rejection: Rejection, in_band: Option<InBandReply>) -> Denial {
    Denial::InvalidX402(Box::new(Refusal {
        rejection,
        offer: Some(offer.clone()),
        settlement: None,
        in_band,
    }))
}

/// The payment a request carries: the HTTP header, or, for a single `tools/call`, its
/// `params._meta["x402/payment"]` (whose refusals and receipt then go back inside MCP too).
fn carried(req: &Request, p: &Pass<'_>) -> Option<(Result<Value, Rejection>, Option<InBandReply>)> {
    if let Some(header) = non_empty_header(req, PAYMENT_SIGNATURE_HEADER) {
        return Some((payload::decode(&header), None));
    }
    let meta = p.mcp_payment.as_ref()?;
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
    Some((payload_from_meta(meta), Some(InBandReply { id, revision })))
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

/// Admits the request on the payment it carries, if it carries one; `None` if it carries none
/// (or x402 is not configured, when the header is only stripped).
pub(super) async fn admit(
    req: &Request,
    p: &Pass<'_>,
    caller: &Caller,
) -> Result<Option<(Paid, Admitted)>, Denial> {
    let Some((decoded, in_band)) = carried(req, p) else {
        return Ok(None);
    };
    let (Some(x), Some(offer)) = (p.cfg.x402.as_ref(), offer(p)) else {
        return Ok(None);
    };
    // Only where x402 is offered now: on this route, unless the operator's runtime policy
    // withdrew it. Elsewhere the payment is not taken (and never forwarded).
    let runtime = runtime::runtime_policy(p.env, p.now_ms).await?;
    let offered = runtime.offers().unwrap_or_else(|| p.route.offers.clone());
    if !offered.contains(&OfferKind::X402) {
        return Ok(None);
    }
    let refuse = |rejection| refusal(&offer, rejection, in_band.clone());
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
            in_band,
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
    (p.now_ms < until).then(|| super::answer::too_many(&[refusals_check(p)], decision, p))
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
    Err(super::answer::too_many(&[check], reply.decision, p))
}

/// What a settled payment leaves for the answer: the `PAYMENT-RESPONSE` header and, for a
/// payment made inside MCP, the `SettlementResponse` for the result's `_meta`.
pub(super) struct Settled {
    receipt: String,
    in_band: Option<(InBandReply, Value)>,
}

/// Settles the payment before the origin is asked; the request is refused if it does not settle.
pub(super) async fn settle(p: &Pass<'_>, paid: Paid) -> Result<Option<Settled>, Denial> {
    let Some(x) = p.cfg.x402.as_ref() else {
        return Ok(None);
    };
    match facilitator::settle(x, &paid.payment, paid.requirement()).await {
        Ok(settlement) => {
            payments::record(p.env, &paid.payment.id, Some(&settlement.transaction)).await;
            Ok(Some(Settled {
                receipt: settlement.header(),
                in_band: paid.in_band.map(|reply| (reply, settlement.to_json())),
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
        .set(PAYMENT_RESPONSE_HEADER, &settled.receipt)
        .map_err(|_| Denial::Internal)?;
    let Some((reply, settlement)) = settled.in_band else {
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
        let rewriter = SseSettlement::new(reply.id, settlement);
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
                let body = json_with_settlement(&body, &reply.id, &settlement).unwrap_or(body);
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
