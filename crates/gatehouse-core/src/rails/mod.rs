//! The payment rails a spent quota offers (docs/PROTOCOL.md §1, §2, §8, §9). Each is an offer, a
//! credential reader and its judgement, in a module of its own: proof of work (`pow`, with its
//! adaptive difficulty in `difficulty` and `controller`), L402 (`l402`), x402 (`x402`) and MPP
//! (`mpp`); `challenge` holds what the stored rails keep, `outstanding` which offers are made
//! again, and `payment_required` the 402 that carries them.
//!
//! `table` is the one table of what the rest of the gateway needs to know about a rail without
//! naming it: its name, what it needs configured, what making an offer costs, and what a client
//! is told about it. A fifth rail is a module and a row.

pub mod challenge;
pub mod controller;
pub mod difficulty;
pub mod l402;
pub mod mpp;
pub mod outstanding;
pub mod payment_required;
pub mod pow;
pub mod table;
pub mod x402;
