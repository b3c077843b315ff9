//! Who is calling, decided once per request (docs/threat-model.md, docs/PROTOCOL.md §6): an
//! OAuth identity when the operator runs OAuth, else a gateway-issued API key, else the address
//! (IPv6 aggregated to a prefix). Every identity is either verified or costs its holder something
//! to mint: a forged, unknown or revoked key is refused with 401, never counted as a fresh quota.
//! The only exception is the operator's explicit opt-in to trust an unverified header, which
//! is then held to a per-address ceiling.

use gatehouse_core::audit;
use gatehouse_core::config::Config;
use std::cell::RefCell;

use gatehouse_core::credentials::api_key::{self, ApiKey, KeyRejection};
use gatehouse_core::credentials::identity::RateKey;
use gatehouse_core::credentials::verified::Verified;
use gatehouse_core::metering::quota::Policy;
use gatehouse_core::oauth::access_token::Identity;
use gatehouse_core::wire::bytes::to_hex;
use gatehouse_core::wire::denial::Denial;
use sha2::{Digest, Sha256};
use worker::{Context, Env, Request};

use crate::routes::gate::facts::{non_empty_header, Incoming, RequestFacts};
use crate::routes::gate::oauth;
use crate::stores::revocation;

/// Keys presented to this isolate whose signature checked out (`credentials::verified`).
const REMEMBERED: usize = 4_096;

thread_local! {
    static KEYS: RefCell<Verified<ApiKey>> = RefCell::new(Verified::new(REMEMBERED));
}

/// The caller, once identified.
pub struct Caller {
    /// The quota that applies instead of the route's: the caller's tier.
    pub tier_policy: Option<Policy>,
    /// The OAuth identity, when there is one (its scopes decide what it may call).
    pub oauth: Option<Identity>,
    /// Under an unverified rate key: the address, held to its own limits.
    pub address: Option<AddressLimits>,
    pub audit: audit::Caller,
}

/// An address's own limits, when its clients name themselves unchecked.
pub struct AddressLimits {
    pub key: String,
    pub ceiling: Policy,
    pub mints: Policy,
}

/// Identifies the caller and sets `facts.client_key` to the key it is counted under.
pub async fn identify(
    req: &Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    facts: &mut RequestFacts,
    now_ms: u64,
) -> Result<Caller, Denial> {
    let keyed = by_rate_key(req, cfg, facts, now_ms / 1_000)?;
    if let Some(id) = &keyed.revocation {
        if revocation::is_revoked(env, ctx, id, now_ms).await? {
            return Err(Denial::InvalidApiKey(KeyRejection::Revoked));
        }
    }
    let mut caller = keyed.accept(facts);
    if let Some(o) = &cfg.oauth {
        let bearer = non_empty_header(req, "authorization");
        let id = oauth::authenticate(
            env,
            o,
            cfg.local_dev,
            bearer.as_deref().and_then(oauth::bearer),
            now_ms,
        )
        .await?;
        if let Some(id) = id {
            // One identity, one quota, wherever it calls from; its tier decides how much.
            facts.client_key = id.rate_key();
            caller.tier_policy = Some(o.tier(&id.tier).policy.clone());
            caller.audit = audit::Caller {
                client_key: String::new(),
                subject: Some(id.subject.clone()),
                client_id: id.client_id.clone(),
                tier: Some(id.tier.clone()),
                admitted_by: String::new(),
            };
            caller.oauth = Some(id);
        }
    }
    caller.audit.client_key = facts.client_key.clone();
    Ok(caller)
}

/// The caller its rate key names, before OAuth: accepted once `revocation`, the id an issued
/// key is revoked under, is looked up and found not revoked.
pub struct Keyed {
    pub revocation: Option<String>,
    client_key: Option<String>,
    caller: Caller,
}

impl Keyed {
    /// The caller, counted under its key from now on.
    pub fn accept(self, facts: &mut RequestFacts) -> Caller {
        if let Some(key) = self.client_key {
            facts.client_key = key;
        }
        self.caller
    }
}

/// Reads the rate key (`IDENTITY_RATE_KEY`): an issued key is verified here, and looked up
/// among the revoked by the caller.
pub fn by_rate_key(
    req: &dyn Incoming,
    cfg: &Config,
    facts: &RequestFacts,
    now_s: u64,
) -> Result<Keyed, Denial> {
    let mut keyed = Keyed {
        revocation: None,
        client_key: None,
        caller: Caller {
            tier_policy: None,
            oauth: None,
            address: None,
            audit: audit::Caller::default(),
        },
    };
    match &cfg.identity.rate_key {
        RateKey::Address => {}
        RateKey::IssuedKey { header } => {
            if let Some(presented) = non_empty_header(req, header) {
                let key = KEYS
                    .with(|memo| {
                        let memo = &mut memo.borrow_mut();
                        api_key::verify_remembered(&cfg.token.keys, memo, &presented, now_s)
                    })
                    .map_err(Denial::InvalidApiKey)?;
                keyed.revocation = Some(key.revocation_id());
                keyed.client_key = Some(key.rate_key());
                keyed.caller.tier_policy =
                    cfg.identity.key_tier(&key.tier).map(|t| t.policy.clone());
                keyed.caller.audit.tier = Some(key.tier);
            }
        }
        RateKey::Unverified {
            header,
            ceiling,
            mints,
        } => {
            if let Some(value) = non_empty_header(req, header) {
                // Hashed so that a raw header value never lands in an object name or a log line.
                let digest = to_hex(&Sha256::digest(value.as_bytes()));
                keyed.client_key = Some(format!("hdr:{}", &digest[..32]));
                keyed.caller.address = Some(AddressLimits {
                    key: facts.address_key.clone(),
                    ceiling: ceiling.clone(),
                    mints: mints.clone(),
                });
            }
        }
    }
    Ok(keyed)
}
