//! Gateway-issued API keys through the admin API (`gatehouse_core::credentials::api_key`):
//! - `POST /admin/api/keys` `{"id"?, "tier"?}` mints a key (a random id when none is given) and
//!   returns it once; the gateway keeps no copy, since a key verifies by its signature alone;
//! - `POST /admin/api/keys/revoke` `{"id"}` revokes every key minted for that id, through the
//!   revocation list that access tokens use.

use gatehouse_core::config::Config;
use gatehouse_core::credentials::api_key::{self, is_word};
use gatehouse_core::credentials::revocation::{kept_until_ms, Revoked};
use gatehouse_core::wire::bytes::to_hex;
use gatehouse_core::wire::denial::{Denial, Dependency};
use gatehouse_core::wire::json_object::object;
use serde::Deserialize;
use worker::{console_log, Response};

use crate::platform::random;
use crate::platform::respond;
use crate::stores::revocation;

/// The tier of a key minted without one when no `KEY_TIERS` are configured.
const DEFAULT_TIER: &str = "default";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    id: Option<String>,
    tier: Option<String>,
}

pub fn mint(cfg: &Config, raw: &[u8], now_ms: u64) -> Result<Response, Denial> {
    let body: MintBody = serde_json::from_slice(raw)
        .map_err(|_| Denial::InvalidRequest("body must be {\"id\"?, \"tier\"?}"))?;
    let id = match body.id {
        Some(id) => id,
        None => to_hex(&random::bytes::<12>().ok_or(Denial::Internal)?),
    };
    let tiers = &cfg.identity.key_tiers;
    let tier = body
        .tier
        .or_else(|| tiers.first().map(|t| t.name.clone()))
        .unwrap_or_else(|| DEFAULT_TIER.into());
    if !is_word(&id) || !is_word(&tier) {
        return Err(Denial::InvalidRequest(
            "id and tier must be 1-64 of A-Z a-z 0-9 . _ -",
        ));
    }
    if !tiers.is_empty() && cfg.identity.key_tier(&tier).is_none() {
        return Err(Denial::InvalidRequest("tier must be one of KEY_TIERS"));
    }
    let key = api_key::mint(&cfg.token.keys, &id, &tier, now_ms / 1_000);
    console_log!(
        "{}",
        object([
            ("event", "api_key_minted".into()),
            ("id", id.as_str().into()),
            ("tier", tier.as_str().into()),
        ])
    );
    respond::json(
        201,
        &object([
            ("key", key.into()),
            ("id", id.into()),
            ("tier", tier.into()),
            ("header", cfg.identity.key_header().into()),
        ]),
    )
    .map_err(|_| Denial::Internal)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    id: String,
}

pub async fn revoke(
    env: &worker::Env,
    cfg: &Config,
    raw: &[u8],
    now_ms: u64,
) -> Result<Response, Denial> {
    let body: RevokeBody =
        serde_json::from_slice(raw).map_err(|_| Denial::InvalidRequest("body must be {\"id\"}"))?;
    if !is_word(&body.id) {
        return Err(Denial::InvalidRequest(
            "id must be 1-64 of A-Z a-z 0-9 . _ -",
        ));
    }
    let jti = api_key::revocation_id(&body.id);
    revocation::revoke(
        env,
        &jti,
        kept_until_ms(Revoked::ApiKey, cfg.lifetimes(), now_ms),
        now_ms,
        "api key revoked",
    )
    .await
    .map_err(|_| Denial::DependencyUnavailable(Dependency::RevocationStore))?;
    let line = object([
        ("event", "api_key_revoked".into()),
        ("id", body.id.as_str().into()),
    ]);
    console_log!("{line}");
    respond::json(200, &object([("revoked", body.id.into())])).map_err(|_| Denial::Internal)
}
