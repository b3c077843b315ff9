//! Compact JWS with HS256 (RFC 7515, RFC 7518 §3.2) for the gateway's own access tokens.
//!
//! Only HS256 is accepted: the header's `alg` is checked against that constant, never used to
//! pick an algorithm, so `none` and algorithm-confusion tokens fail. The `kid` selects a key from
//! the ring; the MAC is compared in constant time by `hmac`'s `verify_slice`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::credentials::keys::{KeyRing, SigningKey};

/// Longer inputs are refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 4_096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    UnsupportedAlgorithm,
    UnknownKey,
    BadSignature,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    kid: String,
}

fn mac(key: &[u8], signing_input: &[u8]) -> Hmac<Sha256> {
    // new_from_slice accepts any key length for HMAC; the ring enforces the 32-byte floor.
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(signing_input);
    m
}

pub fn sign<C: Serialize>(claims: &C, key: &SigningKey) -> String {
    let header = Header {
        alg: "HS256".into(),
        typ: Some("JWT".into()),
        kid: key.kid.clone(),
    };
    let head = B64URL.encode(serde_json::to_vec(&header).unwrap_or_default());
    let body = B64URL.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{head}.{body}");
    let sig = B64URL.encode(mac(&key.secret, input.as_bytes()).finalize().into_bytes());
    format!("{input}.{sig}")
}

/// Checks the signature and returns the claims. Claim rules (expiry, audience) are the caller's.
pub fn verify<C: DeserializeOwned>(token: &str, ring: &KeyRing) -> Result<C, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = B64URL
        .decode(head)
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or(JwtError::Malformed)?;
    if header.alg != "HS256" {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    let key = ring.find(&header.kid).ok_or(JwtError::UnknownKey)?;
    let sig = B64URL.decode(sig).map_err(|_| JwtError::Malformed)?;
    let input_len = head.len() + 1 + body.len();
    mac(&key.secret, &token.as_bytes()[..input_len])
        .verify_slice(&sig)
        .map_err(|_| JwtError::BadSignature)?;
    let raw = B64URL.decode(body).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&raw).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::keys::parse_key_ring;
    use serde_json::{json, Value};

    fn ring(spec: &str) -> KeyRing {
        parse_key_ring(spec).unwrap()
    }

    const K1: &str = "k1:0123456789abcdef0123456789abcdef";
    const K2: &str = "k2:fedcba9876543210fedcba9876543210";

    /// RFC 7515 Appendix A.1's key and payload, signed through this module, must give the
    /// RFC's signature when the header is the same bytes. The RFC header has no kid, so the
    /// vector is checked at the MAC layer.
    #[test]
    fn hmac_matches_rfc7515_appendix_a1() {
        let key = B64URL
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = B64URL.encode(mac(&key, input.as_bytes()).finalize().into_bytes());
        assert_eq!(sig, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    }

    #[test]
    fn round_trip_with_the_signing_key() {
        let r = ring(K1);
        let token = sign(&json!({"sub":"a","n":1}), r.signer());
        let claims: Value = verify(&token, &r).unwrap();
        assert_eq!(claims, json!({"sub":"a","n":1}));
    }

    #[test]
    fn an_older_key_still_verifies_after_rotation() {
        let old = ring(K1);
        let token = sign(&json!({"sub":"a"}), old.signer());
        let rotated = ring(&format!("{K2},{K1}"));
        assert!(verify::<Value>(&token, &rotated).is_ok());
        let dropped = ring(K2);
        assert_eq!(
            verify::<Value>(&token, &dropped).unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let r = ring(K1);
        let token = sign(&json!({"sub":"a"}), r.signer());
        let body = token.split('.').nth(1).unwrap();
        for alg in ["none", "HS512", "RS256"] {
            let head = B64URL.encode(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#));
            let forged = format!("{head}.{body}.");
            assert_eq!(
                verify::<Value>(&forged, &r).unwrap_err(),
                JwtError::UnsupportedAlgorithm
            );
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let r = ring(K1);
        for bad in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_eq!(
                verify::<Value>(bad, &r).unwrap_err(),
                JwtError::Malformed,
                "{bad:.20}"
            );
        }
    }
}
