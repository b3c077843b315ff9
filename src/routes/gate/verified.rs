//! Signatures this isolate has already checked: an access token's or an API key's HMAC, once per
//! string per isolate rather than on every request. Only what depends on the string alone is
//! kept (the signature, the issuer, the key's claims); audience, lifetime, binding and
//! revocation are judged on every request. Only successes are kept, so a client cannot fill the
//! map with garbage, and the map is emptied when it reaches its bound.

use std::cell::RefCell;
use std::collections::HashMap;

use gatehouse_core::api_key::{self, ApiKey, KeyRejection};
use gatehouse_core::keys::KeyRing;
use gatehouse_core::token::{self, AccessClaims, TokenRejection, TokenSettings};

const MAX_ENTRIES: usize = 1_024;

thread_local! {
    static TOKENS: RefCell<HashMap<String, AccessClaims>> = RefCell::new(HashMap::new());
    static KEYS: RefCell<HashMap<String, ApiKey>> = RefCell::new(HashMap::new());
}

fn remembered<T: Clone, E>(
    map: &'static std::thread::LocalKey<RefCell<HashMap<String, T>>>,
    presented: &str,
    verify: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    if let Some(hit) = map.with(|m| m.borrow().get(presented).cloned()) {
        return Ok(hit);
    }
    let verified = verify()?;
    map.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(presented.to_string(), verified.clone());
    });
    Ok(verified)
}

/// `token::verify`, once per token string.
pub fn token(settings: &TokenSettings, presented: &str) -> Result<AccessClaims, TokenRejection> {
    remembered(&TOKENS, presented, || token::verify(settings, presented))
}

/// `api_key::verify`, once per key string.
pub fn api_key(ring: &KeyRing, presented: &str) -> Result<ApiKey, KeyRejection> {
    remembered(&KEYS, presented, || api_key::verify(ring, presented))
}
