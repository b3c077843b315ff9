//! The authorization server's metadata (RFC 8414) and signing keys (RFC 7517), cached per isolate.
//!
//! When each is fetched, and what a caller may do while the server fails, is
//! `gatehouse_core::oauth::fetch_schedule`'s to say: a TTL, at most one refresh per 30 s for
//! unknown key ids, one fetch at a time, and an exponential backoff after failures. Every fetch
//! follows no redirect (a 3xx is a failure: the configured or published URL is the one that was
//! checked against the SSRF rules, not wherever it points) and reads at most a capped body.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use gatehouse_core::oauth::access_token::{Parsed, Rejection};
use gatehouse_core::oauth::fetch_schedule::{FetchSchedule, Plan};
use gatehouse_core::oauth::jwk::{parse_jwks, Alg, MAX_JWKS_BYTES};
use gatehouse_core::oauth::settings::OAuthSettings;
use gatehouse_core::origin::{parse_origin, OriginUrl};
use gatehouse_core::wire::json_object::object;
use serde_json::Value;
use worker::{console_error, wasm_bindgen::JsValue, Delay};

use crate::platform::outbound;
use crate::platform::webcrypto;

const FETCH_TIMEOUT_MS: u32 = 5_000;
const MAX_METADATA_BYTES: usize = 64 * 1024;
/// How long a caller that needs a fetch another is making sleeps before looking again, and how
/// many times: past that it is answered 503 rather than held.
const WAIT_STEP_MS: u64 = 25;
const MAX_WAITS: u32 = 2 * FETCH_TIMEOUT_MS / WAIT_STEP_MS as u32;

#[derive(Default)]
struct Cache {
    metadata: Option<Vec<u8>>,
    metadata_schedule: FetchSchedule,
    keys: HashMap<String, (Alg, JsValue)>,
    key_schedule: FetchSchedule,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Why a token could not be checked: the token's fault, or the authorization server's.
pub enum KeyFailure {
    Token(Rejection),
    Unavailable,
}

async fn get(url: &str, cap: usize) -> Result<Vec<u8>, String> {
    let req = outbound::request(url, "GET", None, None, true).map_err(|e| e.to_string())?;
    let mut res = outbound::fetch(req, FETCH_TIMEOUT_MS)
        .await
        .map_err(|f| match f {
            outbound::Failure::Unreachable(e) => e,
            outbound::Failure::Timeout => "timed out".into(),
        })?;
    if res.status_code() != 200 {
        // Includes every 3xx: with manual redirects the runtime hands them back unfollowed.
        return Err(format!("{url} answered {}", res.status_code()));
    }
    outbound::read_capped(&mut res, cap, FETCH_TIMEOUT_MS)
        .await
        .map_err(|e| format!("{url} {e}"))
}

fn log_failure(what: &str, error: &str) {
    console_error!(
        "{}",
        object([
            ("event", "dependency_failed".into()),
            ("dependency", "authorization_server".into()),
            ("fetching", what.into()),
            ("error", error.into()),
        ])
    );
}

/// The authorization server's metadata document, as it published it. While the server fails, a
/// copy fetched earlier is served however old.
pub async fn metadata(o: &OAuthSettings, now_ms: u64) -> Result<Vec<u8>, String> {
    let mut waits = 0;
    loop {
        let (cached, plan) = CACHE.with(|c| {
            let c = c.borrow();
            (
                c.metadata.clone(),
                c.metadata_schedule.plan(now_ms, c.metadata.is_some()),
            )
        });
        match plan {
            Plan::UseCache => return cached.ok_or_else(|| "no metadata".into()),
            Plan::Unavailable => return Err("backing off after failed fetches".into()),
            Plan::Wait if waits < MAX_WAITS => {
                waits += 1;
                Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
            }
            Plan::Wait => return Err("another fetch did not finish".into()),
            Plan::Fetch => {
                CACHE.with(|c| c.borrow_mut().metadata_schedule.begin(now_ms));
                return match fetch_metadata(o).await {
                    Ok(body) => {
                        CACHE.with(|c| {
                            let mut c = c.borrow_mut();
                            c.metadata = Some(body.clone());
                            c.metadata_schedule.succeeded(now_ms);
                        });
                        Ok(body)
                    }
                    Err(e) => {
                        CACHE.with(|c| c.borrow_mut().metadata_schedule.failed(now_ms));
                        log_failure("metadata", &e);
                        cached.ok_or(e)
                    }
                };
            }
        }
    }
}

async fn fetch_metadata(o: &OAuthSettings) -> Result<Vec<u8>, String> {
    let body = get(&o.metadata_url.join(&o.metadata_path), MAX_METADATA_BYTES).await?;
    let doc: Value =
        serde_json::from_slice(&body).map_err(|_| "metadata is not JSON".to_string())?;
    if doc.get("issuer").and_then(Value::as_str) != Some(o.issuer.as_str()) {
        return Err("metadata names another issuer".into());
    }
    Ok(body)
}

async fn jwks_url(o: &OAuthSettings, local_dev: bool, now_ms: u64) -> Result<String, String> {
    if let Some((authority, path)) = &o.jwks_url {
        return Ok(authority.join(path));
    }
    let doc: Value =
        serde_json::from_slice(&metadata(o, now_ms).await?).map_err(|e| e.to_string())?;
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("metadata has no jwks_uri")?;
    // The same SSRF rules as every other outbound URL.
    let checked: OriginUrl =
        parse_origin(uri, local_dev).map_err(|p| format!("jwks_uri {}", p.describe()))?;
    Ok(checked.join(""))
}

async fn fetch_keys(
    o: &OAuthSettings,
    local_dev: bool,
    now_ms: u64,
) -> Result<HashMap<String, (Alg, JsValue)>, String> {
    let url = jwks_url(o, local_dev, now_ms).await?;
    let jwks = parse_jwks(&get(&url, MAX_JWKS_BYTES).await?).ok_or("not a JWKS")?;
    let mut keys = HashMap::new();
    for jwk in jwks {
        match webcrypto::import(&jwk).await {
            Ok(key) => {
                keys.insert(jwk.kid.clone(), (jwk.alg, key));
            }
            Err(e) => console_error!(
                "{{\"event\":\"jwk_import_failed\",\"kid\":{:?},\"error\":{:?}}}",
                jwk.kid,
                format!("{e:?}")
            ),
        }
    }
    Ok(keys)
}

fn lookup(kid: &str) -> Option<(Alg, JsValue)> {
    CACHE.with(|c| c.borrow().keys.get(kid).cloned())
}

/// The key the token's `kid` names, fetching the key set if the schedule says to.
async fn key_for(
    o: &OAuthSettings,
    local_dev: bool,
    kid: &str,
    now_ms: u64,
) -> Result<Option<(Alg, JsValue)>, KeyFailure> {
    let mut waits = 0;
    let mut fetched = false;
    loop {
        let key = lookup(kid);
        let plan = CACHE.with(|c| c.borrow().key_schedule.plan(now_ms, key.is_some()));
        match plan {
            Plan::Fetch if !fetched => {
                fetched = true;
                CACHE.with(|c| c.borrow_mut().key_schedule.begin(now_ms));
                let result = fetch_keys(o, local_dev, now_ms).await;
                CACHE.with(|c| {
                    let mut c = c.borrow_mut();
                    match result {
                        Ok(keys) => {
                            c.keys = keys;
                            c.key_schedule.succeeded(now_ms);
                        }
                        Err(e) => {
                            c.key_schedule.failed(now_ms);
                            log_failure("jwks", &e);
                        }
                    }
                });
            }
            // After its own fetch the schedule never asks for another; the guard keeps a future
            // change from looping.
            Plan::Fetch | Plan::UseCache => return Ok(key),
            Plan::Wait if waits < MAX_WAITS => {
                waits += 1;
                Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
            }
            Plan::Wait | Plan::Unavailable => return Err(KeyFailure::Unavailable),
        }
    }
}

/// Verifies the token's signature with the key its `kid` names.
pub async fn verify_signature(
    o: &OAuthSettings,
    local_dev: bool,
    token: &Parsed<'_>,
    now_ms: u64,
) -> Result<(), KeyFailure> {
    let (alg, key) = key_for(o, local_dev, &token.kid, now_ms)
        .await?
        .ok_or(KeyFailure::Token(Rejection::UnknownKey))?;
    if alg != token.alg {
        return Err(KeyFailure::Token(Rejection::UnsupportedAlgorithm));
    }
    match webcrypto::verify(alg, &key, &token.signature, token.signing_input.as_bytes()).await {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(KeyFailure::Token(Rejection::BadSignature)),
    }
}
