//! Gateway-issued API keys (docs/PROTOCOL.md §6): the identity a client is counted under when the
//! operator keys quotas on a header. A key is stateless: `gk_` followed by a compact JWS (HS256,
//! `jwt.rs`) over `{typ, id, tier, iat}`, signed with the token key ring, so it is checked in the
//! isolate with no I/O and survives key rotation like access tokens do. It is revoked through the
//! same revocation list as access tokens, under the name `key:<id>`.
//!
//! Why signed keys and not a stored table: an unverified header value let a client mint a fresh
//! quota per request. A key the gateway signed costs the client an operator's decision to mint,
//! and costs the gateway no lookup to check.
//!
//! An access token can never pass for a key, nor a key for an access token: the claims here
//! require `typ` and refuse unknown members, while access tokens require `bnd` and `grant`.

use serde::{Deserialize, Serialize};

use crate::credentials::jwt::{self, JwtError};
use crate::credentials::keys::KeyRing;
use crate::credentials::verified::{self, Verified};

pub const PREFIX: &str = "gk_";
/// Where the admin API mints keys and revokes them (`POST`, behind the admin secret).
pub const ADMIN_KEYS_PATH: &str = "/admin/api/keys";
pub const ADMIN_KEYS_REVOKE_PATH: &str = "/admin/api/keys/revoke";
const TYP: &str = "gatehouse/api-key";
/// Ids and tier names are short printable words; anything else is refused at minting.
pub const MAX_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    typ: String,
    id: String,
    tier: String,
    iat: u64,
}

/// What a verified key says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub tier: String,
    pub issued_at_s: u64,
}

impl ApiKey {
    /// The name under which the key's revocation is recorded.
    pub fn revocation_id(&self) -> String {
        revocation_id(&self.id)
    }

    /// The rate key the holder is counted under: the same for every use of the key.
    pub fn rate_key(&self) -> String {
        format!("key:{}", self.id)
    }
}

pub fn revocation_id(id: &str) -> String {
    format!("key:{id}")
}

/// Why a presented key was refused; all of them are `401` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    Malformed,
    UnknownSigningKey,
    BadSignature,
    Revoked,
}

impl KeyRejection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownSigningKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Revoked => "revoked",
        }
    }
}

/// Whether `s` may be a key id or tier name: 1–64 of `[A-Za-z0-9._-]`.
pub fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Mints a key for `id` in `tier`. The caller checks both with [`is_word`] first.
pub fn mint(ring: &KeyRing, id: &str, tier: &str, now_s: u64) -> String {
    let claims = Claims {
        typ: TYP.into(),
        id: id.into(),
        tier: tier.into(),
        iat: now_s,
    };
    format!("{PREFIX}{}", jwt::sign(&claims, ring.signer()))
}

/// Checks a presented key's form and signature (revocation is the caller's: it needs the list).
pub fn verify(ring: &KeyRing, presented: &str) -> Result<ApiKey, KeyRejection> {
    let jws = presented
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(KeyRejection::Malformed)?;
    let claims: Claims = jwt::verify(jws, ring).map_err(|e| match e {
        JwtError::UnknownKey => KeyRejection::UnknownSigningKey,
        JwtError::BadSignature => KeyRejection::BadSignature,
        JwtError::Malformed | JwtError::UnsupportedAlgorithm => KeyRejection::Malformed,
    })?;
    if claims.typ != TYP || !is_word(&claims.id) || !is_word(&claims.tier) {
        return Err(KeyRejection::Malformed);
    }
    Ok(ApiKey {
        id: claims.id,
        tier: claims.tier,
        issued_at_s: claims.iat,
    })
}

/// [`verify`], answered from `memo` for a key this isolate already verified (`verified.rs`). A
/// key does not expire; its revocation is the caller's, on every presentation. The memo is keyed
/// by the text `verify` reads, trimmed: one entry per key, however it is padded.
pub fn verify_remembered(
    ring: &KeyRing,
    memo: &mut Verified<ApiKey>,
    presented: &str,
    now_s: u64,
) -> Result<ApiKey, KeyRejection> {
    let key = presented.trim();
    verified::checked(memo, key, now_s, |k| verify(ring, k), |_| u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::keys::parse_key_ring;
    use crate::credentials::token::{self, AccessClaims, Via};

    fn ring() -> KeyRing {
        parse_key_ring("k1:0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_minted_key_verifies_with_its_id_and_tier() {
        let key = mint(&ring(), "agent-7", "pro", 1_000);
        assert!(key.starts_with(PREFIX));
        let k = verify(&ring(), &key).unwrap();
        assert_eq!((k.id.as_str(), k.tier.as_str()), ("agent-7", "pro"));
        assert_eq!(k.rate_key(), "key:agent-7");
        assert_eq!(k.revocation_id(), "key:agent-7");
    }

    #[test]
    fn a_key_from_another_ring_or_edited_is_refused() {
        let key = mint(&ring(), "agent-7", "pro", 1_000);
        let other = parse_key_ring("k1:fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(verify(&other, &key), Err(KeyRejection::BadSignature));
        let mut bytes = key.into_bytes();
        let n = bytes.len();
        bytes[n - 3] = if bytes[n - 3] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(bytes).unwrap();
        assert_eq!(verify(&ring(), &edited), Err(KeyRejection::BadSignature));
    }

    #[test]
    fn arbitrary_header_values_are_not_keys() {
        for v in [
            "",
            "agent-200",
            "gk_",
            "gk_a.b.c",
            "Bearer x",
            &"x".repeat(10_000),
        ] {
            assert!(verify(&ring(), v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn an_access_token_is_not_a_key_and_a_key_is_not_an_access_token() {
        let settings = crate::config::TokenSettings {
            ttl_s: 300,
            grant: 5,
            binding: token::Binding::parse("client_key").unwrap(),
            keys: ring(),
            issuer: "gatehouse".into(),
        };
        let (access, _) = token::issue(
            &settings,
            token::Issue {
                audience: "http://gw",
                subject: "ip:1",
                binding_hash: "b".into(),
                jti: "j".into(),
                via: Via::Pow,
                now_s: 10,
                reduced: None,
                route: Some("main"),
            },
        );
        assert!(verify(&ring(), &format!("{PREFIX}{access}")).is_err());
        let key = mint(&ring(), "agent", "free", 10);
        let as_token = key.strip_prefix(PREFIX).unwrap();
        assert!(jwt::verify::<AccessClaims>(as_token, &ring()).is_err());
    }

    #[test]
    fn ids_and_tiers_are_short_words() {
        assert!(is_word("agent-7.eu_1"));
        for bad in ["", "a b", "a/b", "ü", &"a".repeat(65)] {
            assert!(!is_word(bad), "{bad:?}");
        }
    }
}
