//! The authorization server's metadata and signing keys, cached per isolate.
//!
//! The metadata (RFC 8414) and the JWKS are kept for `TTL_MS`. A token signed with a key id the
//! cache does not know triggers a refresh, since the server may have rotated keys, but at most
//! once per `REFRESH_GAP_MS`, so a flood of tokens with made-up key ids cannot turn the gateway
//! into a load generator against the authorization server.

use std::cell::RefCell;
use std::collections::HashMap;

use gatehouse_core::config::{parse_origin, OriginUrl};
use gatehouse_core::oauth::access_token::{Parsed, Rejection};
use gatehouse_core::oauth::jwk::{parse_jwks, Alg};
use gatehouse_core::oauth::settings::OAuthSettings;
use serde_json::Value;
use worker::{console_error, wasm_bindgen::JsValue, Method, Request, RequestInit};

use crate::outbound;
use crate::webcrypto;

const TTL_MS: u64 = 10 * 60 * 1_000;
const REFRESH_GAP_MS: u64 = 30 * 1_000;
const FETCH_TIMEOUT_MS: u32 = 5_000;
const MAX_METADATA_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Cache {
    metadata: Option<(Vec<u8>, u64)>,
    keys: HashMap<String, (Alg, JsValue)>,
    keys_fetched_ms: Option<u64>,
    last_key_refresh_ms: u64,
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
    let mut init = RequestInit::new();
    init.with_method(Method::Get);
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut res = outbound::fetch(req, FETCH_TIMEOUT_MS)
        .await
        .map_err(|f| match f {
            outbound::Failure::Unreachable(e) => e,
            outbound::Failure::Timeout => "timed out".into(),
        })?;
    if res.status_code() != 200 {
        return Err(format!("{url} answered {}", res.status_code()));
    }
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > cap {
        return Err(format!("{url} answered more than {cap} bytes"));
    }
    Ok(body)
}

/// The authorization server's metadata document, as it published it.
pub async fn metadata(o: &OAuthSettings, now_ms: u64) -> Result<Vec<u8>, String> {
    if let Some((body, at)) = CACHE.with(|c| c.borrow().metadata.clone()) {
        if now_ms.saturating_sub(at) < TTL_MS {
            return Ok(body);
        }
    }
    let body = get(&o.metadata_url.join(&o.metadata_path), MAX_METADATA_BYTES).await?;
    let doc: Value =
        serde_json::from_slice(&body).map_err(|_| "metadata is not JSON".to_string())?;
    if doc.get("issuer").and_then(Value::as_str) != Some(o.issuer.as_str()) {
        return Err("metadata names another issuer".into());
    }
    CACHE.with(|c| c.borrow_mut().metadata = Some((body.clone(), now_ms)));
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

async fn refresh_keys(o: &OAuthSettings, local_dev: bool, now_ms: u64) -> Result<(), String> {
    CACHE.with(|c| c.borrow_mut().last_key_refresh_ms = now_ms);
    let url = jwks_url(o, local_dev, now_ms).await?;
    let jwks = parse_jwks(&get(&url, gatehouse_core::oauth::jwk::MAX_JWKS_BYTES).await?)
        .ok_or("not a JWKS")?;
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
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.keys = keys;
        c.keys_fetched_ms = Some(now_ms);
    });
    Ok(())
}

fn lookup(kid: &str) -> Option<(Alg, JsValue)> {
    CACHE.with(|c| c.borrow().keys.get(kid).cloned())
}

/// Verifies the token's signature with the key its `kid` names.
pub async fn verify_signature(
    o: &OAuthSettings,
    local_dev: bool,
    token: &Parsed<'_>,
    now_ms: u64,
) -> Result<(), KeyFailure> {
    let (fetched, last) =
        CACHE.with(|c| (c.borrow().keys_fetched_ms, c.borrow().last_key_refresh_ms));
    let stale = fetched.is_none_or(|t| now_ms.saturating_sub(t) >= TTL_MS);
    let unknown_and_may_refresh =
        lookup(&token.kid).is_none() && now_ms.saturating_sub(last) >= REFRESH_GAP_MS;
    if stale || unknown_and_may_refresh {
        if let Err(e) = refresh_keys(o, local_dev, now_ms).await {
            console_error!("{{\"event\":\"dependency_failed\",\"dependency\":\"authorization_server\",\"error\":{:?}}}", e);
            if fetched.is_none() {
                return Err(KeyFailure::Unavailable);
            }
        }
    }
    let (alg, key) = lookup(&token.kid).ok_or(KeyFailure::Token(Rejection::UnknownKey))?;
    if alg != token.alg {
        return Err(KeyFailure::Token(Rejection::UnsupportedAlgorithm));
    }
    match webcrypto::verify(alg, &key, &token.signature, token.signing_input.as_bytes()).await {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(KeyFailure::Token(Rejection::BadSignature)),
    }
}
