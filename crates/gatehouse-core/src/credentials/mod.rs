//! Who a caller is and what it holds: API keys, signed tokens and their grants, sessions,
//! revocations, the signing keys.

pub mod api_key;
pub mod grant;
pub mod identity;
pub mod jwt;
pub mod keys;
pub mod revocation;
pub mod session;
pub mod token;
pub mod verified;
