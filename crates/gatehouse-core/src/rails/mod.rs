//! The payment rails a spent quota offers, each an offer, a credential reader and its judgement:
//! proof of work (with its adaptive difficulty), L402, x402 and MPP, and the 402 that carries
//! their offers.

pub mod challenge;
pub mod controller;
pub mod difficulty;
pub mod l402;
pub mod mpp;
pub mod outstanding;
pub mod payment_required;
pub mod pow;
pub mod x402;
