//! What the Worker answers, one module per endpoint: the gate in front of the origins, the
//! redemption endpoint, the admin API and dashboard, the OAuth discovery documents, the scheduled
//! purge, and the store contract route for local testing.

pub mod admin;
pub mod discovery;
pub mod gate;
pub mod purge;
pub mod redeem;
#[cfg(feature = "store-contract")]
pub mod store_contract;
