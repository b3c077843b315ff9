//! JSON Web Keys (RFC 7517) from the authorization server's JWKS: which keys can verify which
//! tokens. Only signature keys for RS256 (RSA) and ES256 (EC P-256) are kept; the shell imports
//! each into WebCrypto as it is.

use serde_json::Value;

use crate::wire::json_object::object;

/// The two algorithms accepted for access tokens (RFC 7518 §3.3 and §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    pub kid: String,
    pub alg: Alg,
    /// The key as JSON, public members only, ready for `crypto.subtle.importKey("jwk", …)`.
    pub public: Value,
}

/// A JWKS document is refused past this size.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The usable verification keys of a JWKS document. Keys for other uses or algorithms, and keys
/// without a `kid`, are skipped rather than failing the whole set.
pub fn parse_jwks(body: &[u8]) -> Option<Vec<Jwk>> {
    if body.len() > MAX_JWKS_BYTES {
        return None;
    }
    let doc: Value = serde_json::from_slice(body).ok()?;
    let keys = doc.get("keys")?.as_array()?;
    Some(keys.iter().filter_map(usable).collect())
}

fn usable(key: &Value) -> Option<Jwk> {
    let s = |name: &str| key.get(name).and_then(Value::as_str);
    if s("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let kid = s("kid")?.to_string();
    let (alg, public) = match (s("kty")?, s("crv")) {
        ("RSA", _) => (
            Alg::Rs256,
            object([
                ("kty", "RSA".into()),
                ("n", s("n")?.into()),
                ("e", s("e")?.into()),
                ("alg", "RS256".into()),
                ("ext", true.into()),
            ]),
        ),
        ("EC", Some("P-256")) => (
            Alg::Es256,
            object([
                ("kty", "EC".into()),
                ("crv", "P-256".into()),
                ("x", s("x")?.into()),
                ("y", s("y")?.into()),
                ("ext", true.into()),
            ]),
        ),
        _ => return None,
    };
    if s("alg").is_some_and(|a| Alg::parse(a) != Some(alg)) {
        return None;
    }
    Some(Jwk { kid, alg, public })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_and_p256_signature_keys_are_kept_with_public_members_only() {
        let doc = br#"{"keys":[
            {"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB","d":"secret"},
            {"kty":"EC","kid":"e1","crv":"P-256","x":"xx","y":"yy","d":"secret"},
            {"kty":"EC","kid":"e2","crv":"P-384","x":"xx","y":"yy"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","kid":"ps","alg":"PS256","n":"AQAB","e":"AQAB"},
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","n":"AQAB","e":"AQAB"}
        ]}"#;
        let keys = parse_jwks(doc).unwrap();
        assert_eq!(
            keys.iter()
                .map(|k| (k.kid.as_str(), k.alg))
                .collect::<Vec<_>>(),
            [("r1", Alg::Rs256), ("e1", Alg::Es256)]
        );
        assert!(keys.iter().all(|k| k.public.get("d").is_none()));
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_none() {
        assert!(parse_jwks(b"[]").is_none());
        assert!(parse_jwks(b"{\"keys\":1}").is_none());
        assert!(parse_jwks(&vec![b' '; MAX_JWKS_BYTES + 1]).is_none());
    }
}
