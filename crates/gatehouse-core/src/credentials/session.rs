//! Session ids bound to their caller (MCP authorization, "session hijacking"): the gateway hands
//! clients `<mac>.<origin's id>`, where the MAC covers the caller's rate key and the origin's id
//! under the token signing key. A session id presented by anyone else fails the MAC and is
//! treated as unknown (404), without a round trip to the origin. No state is kept.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::credentials::keys::{KeyRing, SigningKey};
use crate::wire::bytes::ct_eq;

/// 128 bits of MAC, base64url.
const MAC_CHARS: usize = 22;

fn mac(key: &SigningKey, caller: &str, id: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(&key.secret).expect("any key length");
    m.update(b"gatehouse-session-v1\0");
    m.update(caller.as_bytes());
    m.update(b"\0");
    m.update(id.as_bytes());
    B64URL.encode(m.finalize().into_bytes())[..MAC_CHARS].to_string()
}

pub fn wrap(keys: &KeyRing, caller: &str, origin_id: &str) -> String {
    format!("{}.{origin_id}", mac(keys.signer(), caller, origin_id))
}

/// The origin's session id, if `presented` was issued to `caller` under any key of the ring.
pub fn unwrap(keys: &KeyRing, caller: &str, presented: &str) -> Option<String> {
    let (tag, origin_id) = presented.split_once('.')?;
    let ok = keys
        .all()
        .any(|k| ct_eq(mac(k, caller, origin_id).as_bytes(), tag.as_bytes()));
    ok.then(|| origin_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::keys::parse_key_ring;

    #[test]
    fn a_session_works_only_for_its_caller() {
        let keys = parse_key_ring("k1:0123456789abcdef0123456789abcdef").unwrap();
        let wrapped = wrap(&keys, "sub:alice", "7f1c-origin-session");
        assert!(wrapped.ends_with(".7f1c-origin-session"));
        assert_eq!(
            unwrap(&keys, "sub:alice", &wrapped).as_deref(),
            Some("7f1c-origin-session")
        );
        assert_eq!(unwrap(&keys, "sub:mallory", &wrapped), None);
        assert_eq!(
            unwrap(&keys, "sub:alice", "7f1c-origin-session"),
            None,
            "a bare origin id is refused"
        );
        let forged = format!("{}.other", &wrapped[..MAC_CHARS]);
        assert_eq!(unwrap(&keys, "sub:alice", &forged), None);
    }

    #[test]
    fn sessions_survive_a_key_rotation() {
        let old = parse_key_ring("k1:0123456789abcdef0123456789abcdef").unwrap();
        let wrapped = wrap(&old, "ip:1.2.3.4", "s");
        let rotated = parse_key_ring(
            "k2:fedcba9876543210fedcba9876543210,k1:0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(
            unwrap(&rotated, "ip:1.2.3.4", &wrapped).as_deref(),
            Some("s")
        );
    }
}
