//! L402 credentials as aperture mints them (docs/PROTOCOL.md §2): the macaroon identifier
//! `uint16 BE version 0 || payment_hash[32] || token_id[32]`, the caveats `services=<name>:<tier>`,
//! `<name>_capabilities=<list>` and `<name>_valid_until=<unix>`, and the root key, derived here
//! from the operator's secret and the token id so that verification needs no storage.
//!
//! A credential is `L402 <macaroon>[,<macaroon>…]:<preimage hex>` (the legacy `LSAT` scheme too).
//! It holds when the preimage hashes to the identifier's payment hash, some macaroon's chain
//! verifies under its root key, and every caveat addressed to this service is understood and met.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::macaroon::{Macaroon, MAX_MACAROON_BYTES};
use crate::wire::bytes::{ct_eq, from_hex};

pub const IDENTIFIER_LEN: usize = 2 + 32 + 32;
/// What a credential from this gateway lets its holder do: call the MCP origin.
pub const CAPABILITY: &str = "mcp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L402Settings {
    pub service: String,
    pub root_secret: Vec<u8>,
    pub price_sats: u32,
    pub invoice_expiry_s: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub payment_hash: [u8; 32],
    pub token_id: [u8; 32],
}

impl Identifier {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(IDENTIFIER_LEN);
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&self.payment_hash);
        out.extend_from_slice(&self.token_id);
        out
    }

    pub fn decode(raw: &[u8]) -> Option<Self> {
        if raw.len() != IDENTIFIER_LEN || raw[..2] != [0, 0] {
            return None;
        }
        let mut payment_hash = [0u8; 32];
        let mut token_id = [0u8; 32];
        payment_hash.copy_from_slice(&raw[2..34]);
        token_id.copy_from_slice(&raw[34..]);
        Some(Self {
            payment_hash,
            token_id,
        })
    }
}

fn root_key(settings: &L402Settings, token_id: &[u8; 32]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(&settings.root_secret).expect("any key length");
    m.update(b"gatehouse-l402-root-v1");
    m.update(token_id);
    m.finalize().into_bytes().into()
}

/// Mints the macaroon for an invoice. It stays valid until `valid_until_s`. It names no route:
/// an invoice costs the same on every route and buys the same grant, so a paid credential may pay
/// on any (a proof-of-work token, which costs nothing in money, is bound to its route instead).
pub fn mint(settings: &L402Settings, id: &Identifier, valid_until_s: u64) -> Macaroon {
    let s = &settings.service;
    let caveats = [
        format!("services={s}:0"),
        format!("{s}_capabilities={CAPABILITY}"),
        format!("{s}_valid_until={valid_until_s}"),
    ];
    Macaroon::mint(
        &root_key(settings, &id.token_id),
        id.encode(),
        "",
        caveats.into_iter().map(String::into_bytes).collect(),
    )
}

/// The macaroon as it goes in a challenge: standard base64 of the V2 binary form.
pub fn encode_macaroon(macaroon: &Macaroon) -> String {
    STANDARD.encode(macaroon.to_binary())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub macaroons: Vec<Vec<u8>>,
    pub preimage: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L402Rejection {
    Malformed,
    WrongPreimage,
    BadSignature,
    WrongService,
    CapabilityMissing,
    UnknownCaveat,
    Expired,
}

impl L402Rejection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::WrongPreimage => "wrong_preimage",
            Self::BadSignature => "bad_signature",
            Self::WrongService => "wrong_service",
            Self::CapabilityMissing => "capability_missing",
            Self::UnknownCaveat => "unknown_caveat",
            Self::Expired => "expired",
        }
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
}

/// Parses an `Authorization` value. `None` when it is not an L402/LSAT credential at all, so the
/// caller can treat it as some other scheme (an OAuth bearer, say).
pub fn parse_authorization(value: &str) -> Option<Result<Credential, L402Rejection>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("L402") && !scheme.eq_ignore_ascii_case("LSAT") {
        return None;
    }
    Some(parse_token(rest.trim()))
}

fn parse_token(token: &str) -> Result<Credential, L402Rejection> {
    if token.len() > 4 * MAX_MACAROON_BYTES {
        return Err(L402Rejection::Malformed);
    }
    let (macs, preimage_hex) = token.rsplit_once(':').ok_or(L402Rejection::Malformed)?;
    let preimage: [u8; 32] = from_hex(preimage_hex)
        .and_then(|p| p.try_into().ok())
        .ok_or(L402Rejection::Malformed)?;
    let macaroons = macs
        .split(',')
        .map(|m| decode_base64(m.trim()).ok_or(L402Rejection::Malformed))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Credential {
        macaroons,
        preimage,
    })
}

/// What a verified credential proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub token_id: [u8; 32],
    pub payment_hash: [u8; 32],
    /// Until when this presentation is valid: the narrowest expiry among its caveats.
    pub valid_until_s: u64,
    /// Until when the credential as minted is valid: the gateway's own expiry caveat, which its
    /// holder cannot remove or widen (the HMAC chain fixes the caveats it was minted with, and a
    /// holder can only append). Whatever must outlive every presentation of the credential (its
    /// counter, the claim of its payment, a revocation) is kept until this instant, never until
    /// a shorter expiry the holder chose to present.
    pub minted_until_s: u64,
}

/// Verifies statelessly: preimage against the identifier, the chain, then every caveat.
pub fn verify(
    settings: &L402Settings,
    cred: &Credential,
    now_s: u64,
) -> Result<Verified, L402Rejection> {
    let mut last = L402Rejection::Malformed;
    for raw in &cred.macaroons {
        match verify_one(settings, raw, &cred.preimage, now_s) {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn verify_one(
    settings: &L402Settings,
    raw: &[u8],
    preimage: &[u8; 32],
    now_s: u64,
) -> Result<Verified, L402Rejection> {
    let mac = Macaroon::from_binary(raw).map_err(|_| L402Rejection::Malformed)?;
    let id = Identifier::decode(&mac.identifier).ok_or(L402Rejection::Malformed)?;
    if !ct_eq(&Sha256::digest(preimage), &id.payment_hash) {
        return Err(L402Rejection::WrongPreimage);
    }
    if !mac.verify_signature(&root_key(settings, &id.token_id)) {
        return Err(L402Rejection::BadSignature);
    }
    let (valid_until_s, minted_until_s) = check_caveats(settings, &mac.caveats, now_s)?;
    Ok(Verified {
        token_id: id.token_id,
        payment_hash: id.payment_hash,
        valid_until_s,
        minted_until_s,
    })
}

/// Caveats only ever narrow: each repeated caveat must hold on its own. Caveats addressed to
/// another service are that service's business; an unknown one addressed to this one fails.
/// Returns the narrowest expiry and the first one, which is the gateway's own ([`mint`] writes
/// it before any caveat a holder can append).
fn check_caveats(
    settings: &L402Settings,
    caveats: &[Vec<u8>],
    now_s: u64,
) -> Result<(u64, u64), L402Rejection> {
    let s = settings.service.as_str();
    let (mut service_ok, mut capability_ok, mut valid_until) = (false, true, None::<u64>);
    let mut minted_until = None::<u64>;
    for raw in caveats {
        let text = std::str::from_utf8(raw).map_err(|_| L402Rejection::UnknownCaveat)?;
        let (key, value) = text.split_once('=').ok_or(L402Rejection::UnknownCaveat)?;
        let (key, value) = (key.trim(), value.trim());
        if key == "services" {
            let listed = value
                .split(',')
                .any(|e| e.trim().split(':').next() == Some(s));
            if !listed {
                return Err(L402Rejection::WrongService);
            }
            service_ok = true;
        } else if let Some(suffix) = key.strip_prefix(s).and_then(|k| k.strip_prefix('_')) {
            match suffix {
                "capabilities" => capability_ok &= value.split(',').any(|c| c.trim() == CAPABILITY),
                "valid_until" => {
                    let t: u64 = value.parse().map_err(|_| L402Rejection::UnknownCaveat)?;
                    valid_until = Some(valid_until.map_or(t, |v| v.min(t)));
                    minted_until.get_or_insert(t);
                }
                _ => return Err(L402Rejection::UnknownCaveat),
            }
        }
    }
    if !service_ok {
        return Err(L402Rejection::WrongService);
    }
    if !capability_ok {
        return Err(L402Rejection::CapabilityMissing);
    }
    match (valid_until, minted_until) {
        (Some(t), Some(minted)) if now_s < t => Ok((t, minted)),
        (Some(_), _) => Err(L402Rejection::Expired),
        // This gateway always mints an expiry; a macaroon without one was not minted here.
        _ => Err(L402Rejection::UnknownCaveat),
    }
}

#[cfg(test)]
mod tests;
