//! The token signing key ring, parsed from the `TOKEN_SIGNING_KEYS` secret.
//!
//! Format: `kid:secret[,kid:secret…]`, newest first. The first key signs; every key verifies, so
//! a rotation is "prepend the new key, drop the oldest once its tokens have expired". RFC 7518
//! §3.2 asks for an HS256 key of at least 256 bits, hence the 32-byte floor on each secret.

use std::fmt;

pub const MIN_SECRET_BYTES: usize = 32;
const MAX_KID_LEN: usize = 32;

#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    // Secrets never reach a log line, even through a derived Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, <{} bytes>)", self.kid, self.secret.len())
    }
}

/// Non-empty by construction: `signer()` cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    pub fn signer(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Builds a ring from ready keys; `None` when there are none.
    pub fn from_keys(keys: Vec<SigningKey>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }
}

/// Parses the secret. Problems are returned as text lines; the secret itself never appears in them.
pub fn parse_key_ring(raw: &str) -> Result<KeyRing, Vec<String>> {
    let mut keys: Vec<SigningKey> = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in raw.split(',').map(str::trim).enumerate() {
        let Some((kid, secret)) = entry.split_once(':') else {
            problems.push(format!(
                "TOKEN_SIGNING_KEYS entry {} is not kid:secret",
                i + 1
            ));
            continue;
        };
        let kid_ok = !kid.is_empty()
            && kid.len() <= MAX_KID_LEN
            && kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !kid_ok {
            problems.push(format!(
                "TOKEN_SIGNING_KEYS entry {} has a kid that is not 1-{MAX_KID_LEN} of [A-Za-z0-9_-]",
                i + 1
            ));
            continue;
        }
        if secret.len() < MIN_SECRET_BYTES {
            problems.push(format!(
                "TOKEN_SIGNING_KEYS key {kid:?} is shorter than {MIN_SECRET_BYTES} bytes"
            ));
            continue;
        }
        if keys.iter().any(|k| k.kid == kid) {
            problems.push(format!("TOKEN_SIGNING_KEYS names kid {kid:?} twice"));
            continue;
        }
        keys.push(SigningKey {
            kid: kid.to_string(),
            secret: secret.as_bytes().to_vec(),
        });
    }
    match (problems.is_empty(), KeyRing::from_keys(keys)) {
        (true, Some(ring)) => Ok(ring),
        (true, None) => Err(vec!["TOKEN_SIGNING_KEYS holds no key".into()]),
        (false, _) => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "0123456789abcdef0123456789abcdef";
    const S2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn first_key_signs_and_all_verify() {
        let ring = parse_key_ring(&format!("k2:{S2}, k1:{S1}")).unwrap();
        assert_eq!(ring.signer().kid, "k2");
        assert_eq!(ring.find("k1").unwrap().secret, S1.as_bytes());
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn short_secret_is_refused_without_echoing_it() {
        let problems = parse_key_ring("k1:short").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].contains("short\""), "{problems:?}");
        assert!(problems[0].contains("shorter than 32"));
    }

    #[test]
    fn duplicate_kid_and_bad_kid_are_both_reported() {
        let problems =
            parse_key_ring(&format!("k1:{S1},k1:{S2},bad kid:{S1},nocolon")).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let ring = parse_key_ring(&format!("k1:{S1}")).unwrap();
        assert!(!format!("{ring:?}").contains(S1));
    }
}
