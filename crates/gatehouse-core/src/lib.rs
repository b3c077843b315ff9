//! Gatehouse's protocols and decisions.
//!
//! Everything in this crate is pure: no I/O, no clock, no randomness of its own. The Worker shell
//! reads the clock once per request and hands `now` in, draws random bytes and hands them in, and
//! carries out the I/O that the decisions here ask for. That keeps every rule testable natively
//! with `cargo test`, and keeps the platform out of the protocol code.

pub mod address;
pub mod admin_guard;
pub mod audit;
pub mod config;
pub mod credentials;
pub mod mcp;
pub mod metering;
pub mod metrics;
pub mod oauth;
pub mod origin;
pub mod policy;
pub mod rails;
pub mod store;
pub mod wire;
