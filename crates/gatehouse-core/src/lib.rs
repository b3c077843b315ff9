//! Gatehouse's protocols and decisions.
//!
//! Everything in this crate is pure: no I/O, no clock, no randomness of its own. The Worker shell
//! reads the clock once per request and hands `now` in, draws random bytes and hands them in, and
//! carries out the I/O that the decisions here ask for. That keeps every rule testable natively
//! with `cargo test`, and keeps the platform out of the protocol code.

pub mod address;
pub mod admin_guard;
pub mod api_key;
pub mod audit;
pub mod bytes;
pub mod challenge;
pub mod client_counter;
pub mod config;
pub mod controller;
pub mod denial;
pub mod difficulty;
pub mod exhaustion;
pub mod grant;
pub mod headers;
pub mod identity;
pub mod json_object;
pub mod json_strict;
pub mod jwt;
pub mod keys;
pub mod l402;
pub mod limits;
pub mod mcp;
pub mod metrics;
pub mod mpp;
pub mod oauth;
pub mod origin;
pub mod outstanding;
pub mod payment_required;
pub mod policy;
pub mod pow;
pub mod query;
pub mod quota;
pub mod quota_memo;
pub mod ratelimit;
pub mod request_url;
pub mod revocation;
pub mod session;
pub mod store;
pub mod token;
pub mod x402;
