//! The challenges a 402 offers, in the configured order: a proof of work, stored in D1, and an
//! L402 invoice with its macaroon, also stored so that it can be redeemed at the verify endpoint.
//! A Lightning backend that fails drops the L402 offer when anything else is offered (proof of
//! work, x402); otherwise it is a 503, never a 402 that cannot be paid (and the answer step
//! tries once more without L402: `answer.rs`). An x402 offer is the request's own
//! (`gate::x402`), neither stored nor remembered.

use gatehouse_core::config::Config;
use gatehouse_core::rails::challenge::{L402Offer, Offer, OfferKind, PowChallenge, Puzzle};
use gatehouse_core::rails::difficulty::PowPlan;
use gatehouse_core::rails::l402::credential::{encode_macaroon, mint, Identifier};
use gatehouse_core::rails::outstanding::Slot;
use gatehouse_core::rails::table::Minting;
use gatehouse_core::store::{ChallengeRecord, ChallengeStore};
use gatehouse_core::wire::bytes::to_hex;
use gatehouse_core::wire::denial::{Denial, Dependency};
use worker::Env;

use crate::objects::client_counter;
use crate::platform::invoice;
use crate::platform::random;
use crate::platform::respond;
use crate::stores::{self, D1Challenges};

/// The offers of one 402, in the configured order: outstanding ones made again, the rest minted
/// and remembered in the client's counter so that the next denial reuses them.
/// Whom the offers are for: the client they are bound to, on the route that sells them.
pub struct Recipient<'a> {
    pub client_key: &'a str,
    pub route: &'a str,
    /// This request's x402 offer and MPP challenge, when x402 is configured: made for it, never
    /// stored.
    pub x402: Option<Offer>,
    pub mpp: Option<Offer>,
}

pub async fn build(
    env: &Env,
    cfg: &Config,
    slots: &[Slot],
    plan: PowPlan,
    to: &Recipient<'_>,
    now_ms: u64,
) -> Result<Vec<Offer>, Denial> {
    // Whether anything is offered beside what needs the Lightning backend, which may fail.
    let with_other = slots.iter().any(|s| match s {
        Slot::Mint(k) if k.rail().minting == Minting::Invoiced => false,
        Slot::Reuse(o) if o.kind().rail().minting == Minting::Invoiced => false,
        Slot::Mint(OfferKind::X402) => to.x402.is_some(),
        Slot::Mint(OfferKind::Mpp) => to.mpp.is_some(),
        _ => true,
    });
    let mut offers = Vec::with_capacity(slots.len());
    let mut minted = Vec::new();
    for slot in slots {
        let offer = match slot {
            Slot::Reuse(offer) => offer.clone(),
            Slot::Mint(OfferKind::Pow) => Offer::Pow(pow(env, cfg, plan, to, now_ms).await?),
            Slot::Mint(OfferKind::L402) => match l402(env, cfg, to, now_ms).await {
                Ok(offer) => Offer::L402(offer),
                Err(Denial::DependencyUnavailable(Dependency::InvoiceBackend)) if with_other => {
                    continue
                }
                Err(denial) => return Err(denial),
            },
            Slot::Mint(kind @ (OfferKind::X402 | OfferKind::Mpp)) => {
                let made = if *kind == OfferKind::X402 {
                    &to.x402
                } else {
                    &to.mpp
                };
                offers.extend(made.iter().cloned());
                continue;
            }
        };
        if matches!(slot, Slot::Mint(_)) {
            minted.push(offer.clone());
        }
        offers.push(offer);
    }
    if !minted.is_empty() {
        client_counter::remember_offers(env, to.client_key, to.route, minted, now_ms).await?;
    }
    Ok(offers)
}

async fn pow(
    env: &Env,
    cfg: &Config,
    plan: PowPlan,
    to: &Recipient<'_>,
    now_ms: u64,
) -> Result<PowChallenge, Denial> {
    let random = random::bytes::<32>().ok_or(Denial::Internal)?;
    let challenge = PowChallenge {
        reduced: plan.reduced,
        ..PowChallenge::new(&random, plan.bits, now_ms, cfg.challenge_ttl_s)
    };
    let record = ChallengeRecord {
        id: challenge.id.clone(),
        client_key: to.client_key.to_string(),
        route: Some(to.route.to_string()),
        puzzle: Puzzle::Pow {
            salt: challenge.salt.clone(),
            difficulty: challenge.difficulty,
        },
        created_at_ms: now_ms,
        expires_at_ms: challenge.expires_at_ms,
        reduced: challenge.reduced,
        token_id: None,
        redeemed: false,
    };
    D1Challenges(env)
        .insert(&record)
        .await
        .map_err(stores::denial(Dependency::ChallengeStore))?;
    Ok(challenge)
}

async fn l402(
    env: &Env,
    cfg: &Config,
    to: &Recipient<'_>,
    now_ms: u64,
) -> Result<L402Offer, Denial> {
    let l402 = cfg.l402.as_ref().ok_or(Denial::Internal)?;
    let invoice = invoice::create(l402, &l402.settings.service)
        .await
        .map_err(|error| respond::dependency_failed(Dependency::InvoiceBackend, error))?;
    let random = random::bytes::<48>().ok_or(Denial::Internal)?;
    let mut token_id = [0u8; 32];
    token_id.copy_from_slice(&random[..32]);
    let expires_at_s = now_ms / 1_000 + u64::from(l402.settings.invoice_expiry_s);
    // Paying can take until the invoice expires; the credential then lives a token's lifetime.
    let valid_until_s = expires_at_s + u64::from(cfg.token.ttl_s);
    let macaroon = mint(
        &l402.settings,
        &Identifier {
            payment_hash: invoice.payment_hash,
            token_id,
        },
        valid_until_s,
    );
    let offer = L402Offer {
        challenge_id: to_hex(&random[32..]),
        macaroon: encode_macaroon(&macaroon),
        payment_hash: invoice.payment_hash_hex(),
        invoice: invoice.bolt11,
        amount_sats: l402.settings.price_sats,
        expires_at_ms: expires_at_s * 1_000,
    };
    // The token id is kept so that redeeming the payment here and spending the credential can be
    // told to be the same payment (one payment, one grant).
    let record = ChallengeRecord {
        id: offer.challenge_id.clone(),
        client_key: to.client_key.to_string(),
        route: Some(to.route.to_string()),
        puzzle: Puzzle::L402 {
            payment_hash: invoice.payment_hash,
        },
        created_at_ms: now_ms,
        expires_at_ms: offer.expires_at_ms,
        reduced: false,
        token_id: Some(token_id.to_vec()),
        redeemed: false,
    };
    D1Challenges(env)
        .insert(&record)
        .await
        .map_err(stores::denial(Dependency::ChallengeStore))?;
    Ok(offer)
}
