//! Signature checks through the runtime's WebCrypto (`crypto.subtle`), for the algorithms access
//! tokens use (RS256, ES256). Rust implementations of RSA and ECDSA would add size and trust that
//! the runtime already provides.

use gatehouse_core::oauth::jwk::{Alg, Jwk};
use worker::js_sys::{Array, Promise, JSON};
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = importKey)]
    fn import_key(
        format: &str,
        key: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = verify)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;
}

fn json(text: &str) -> Result<JsValue, JsValue> {
    JSON::parse(text)
}

fn import_params(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 => r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
        Alg::Es256 => r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
    }
}

fn verify_params(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 => r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        // JWS ES256 signatures are raw r||s (RFC 7518 §3.4), which is what WebCrypto takes.
        Alg::Es256 => r#"{"name":"ECDSA","hash":"SHA-256"}"#,
    }
}

/// Imports a public key; the returned value is a `CryptoKey`.
pub async fn import(jwk: &Jwk) -> Result<JsValue, JsValue> {
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = import_key(
        "jwk",
        &json(&jwk.public.to_string())?,
        &json(import_params(jwk.alg))?,
        false,
        &usages,
    )?;
    JsFuture::from(promise).await
}

pub async fn verify(
    alg: Alg,
    key: &JsValue,
    signature: &[u8],
    data: &[u8],
) -> Result<bool, JsValue> {
    let promise = subtle_verify(&json(verify_params(alg))?, key, signature, data)?;
    Ok(JsFuture::from(promise).await?.as_bool().unwrap_or(false))
}
