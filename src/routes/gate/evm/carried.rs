//! How a payment on the EIP-3009 rail came, and so how its refusal and receipt go back: x402's
//! `PAYMENT-SIGNATURE` or `_meta["x402/payment"]`, MPP's `Authorization: Payment` or
//! `_meta["org.paymentauth/credential"]`; an MPP credential judged against this request's
//! challenge (`gatehouse_core::rails::mpp::credential`).

use gatehouse_core::mcp::revision::Revision;
use gatehouse_core::rails::mpp::credential::{self as mpp_credential, Expected};
use gatehouse_core::rails::mpp::{self, MppChallenge};
use gatehouse_core::rails::x402::mcp::{payload_from_meta, InBandReply};
use gatehouse_core::rails::x402::payload;
use gatehouse_core::rails::x402::{Rejection, X402Offer, PAYMENT_SIGNATURE_HEADER};
use serde_json::Value;

use super::super::facts::{non_empty_header, Incoming};
use super::super::Pass;

/// How a payment came: its protocol, and inside MCP the request it answers. Refusals and the
/// receipt go back the same way.
#[derive(Clone)]
pub(super) struct Wire {
    pub(super) in_band: Option<InBandReply>,
    /// MPP: the challenge this request would be offered now (for a refusal), and the id of the
    /// one the credential answered once judged (the receipt names it).
    pub(super) mpp: Option<(Option<MppChallenge>, String)>,
}

/// The payment a request carries, undecoded where it is MPP's (judging it needs the offer): the
/// HTTP headers, or, for a single `tools/call`, its `params._meta` (whose refusals and receipt
/// then go back inside MCP too). An x402 payment is taken before an MPP one; either way only one.
pub(super) fn carried(
    req: &dyn Incoming,
    p: &Pass<'_>,
) -> Option<(Result<Value, Rejection>, Wire)> {
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

/// An MPP credential judged against this request's challenge (`mpp::credential`): the x402
/// `PaymentPayload` it carries, and the challenge id for the receipt.
pub(super) fn judge_mpp(
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
