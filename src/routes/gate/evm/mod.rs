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
//!
//! The steps live apart: how a payment came and is read (`carried.rs`), what this request is
//! offered (`offer.rs`), the budget of refused payments (`refusals.rs`), settlement and the
//! receipt (`receipt.rs`).

mod carried;
mod offer;
mod receipt;
mod refusals;

use gatehouse_core::rails::challenge::OfferKind;
use gatehouse_core::rails::mpp::refusal::MppRefusal;
use gatehouse_core::rails::x402::payload::{self, Payment};
use gatehouse_core::rails::x402::{Refusal, Rejection, Requirement, X402Offer};
use gatehouse_core::wire::denial::Denial;
use worker::Request;

use super::caller::Caller;
use super::credential::Admitted;
use super::facts::Incoming;
use super::Pass;
use crate::platform::facilitator::{self, Failed};
use crate::stores::runtime;
use crate::stores::x402_payments::{self as payments, Claim};
use carried::{carried, judge_mpp, Wire};
pub(super) use offer::{mpp_offer, offer, Transport};
pub(super) use receipt::{settle, with_receipt};
use refusals::{count_refusal, refused_recently};

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

/// Whether the request carries a payment on this rail (whether or not it would be taken).
pub(super) fn carries_payment(req: &dyn Incoming, p: &Pass<'_>) -> bool {
    carried(req, p).is_some()
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
    super::ceiling::within_address_ceiling(p, caller, 1).await?;
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
