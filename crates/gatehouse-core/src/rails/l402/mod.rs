//! L402 (formerly LSAT): pay a Lightning invoice, present `macaroon:preimage` (docs/PROTOCOL.md §2).

pub mod credential;
pub mod invoice;
pub mod macaroon;
