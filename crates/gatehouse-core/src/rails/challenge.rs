//! Challenges and their redemption at `POST /api/verify-challenge` (docs/PROTOCOL.md §1).
//!
//! Creating a challenge and judging a redemption are pure; the shell stores the challenge in D1
//! and enforces single use with one conditional `UPDATE … WHERE redeemed_at IS NULL AND
//! expires_at > now`, requiring exactly one changed row. The judgement here only decides what a
//! redemption deserves; it never marks anything spent, so it cannot race.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use sha2::{Digest, Sha256};

use crate::rails::pow;
use crate::rails::x402::X402Offer;
use crate::wire::bytes::{ct_eq, from_hex, to_hex};

/// The `type` of each kind of offer in a 402 body's `challenges`.
pub const POW_TYPE: &str = "pow";
pub const L402_TYPE: &str = "l402";
/// The `WWW-Authenticate` scheme of each (docs/PROTOCOL.md §1, §2).
pub const POW_SCHEME: &str = "PoW";
pub const L402_SCHEME: &str = "L402";

/// Where a proof is redeemed for an access token (`POST`).
pub const VERIFY_PATH: &str = "/api/verify-challenge";

pub const ID_BYTES: usize = 16;
pub const SALT_BYTES: usize = 16;
/// The redemption body holds an id and a nonce or preimage: a few hundred bytes at most.
pub const MAX_REDEEM_BODY: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowChallenge {
    pub id: String,
    pub salt: String,
    pub difficulty: u8,
    pub expires_at_ms: u64,
    /// Offered under a time budget too tight for the normal difficulty: it buys a reduced grant.
    pub reduced: bool,
}

impl PowChallenge {
    /// `random` supplies the id (first 16 bytes) and the salt (last 16 bytes). The expiry falls on
    /// a whole second, the one advertised in `expires`, so a client that reads it is never told a
    /// challenge lives longer than it does.
    pub fn new(
        random: &[u8; ID_BYTES + SALT_BYTES],
        difficulty: u8,
        now_ms: u64,
        ttl_s: u32,
    ) -> Self {
        let expires_at_s = (now_ms + u64::from(ttl_s) * 1_000) / 1_000;
        Self {
            id: to_hex(&random[..ID_BYTES]),
            salt: to_hex(&random[ID_BYTES..]),
            difficulty,
            expires_at_ms: expires_at_s * 1_000,
            reduced: false,
        }
    }

    pub fn expires_at_s(&self) -> u64 {
        self.expires_at_ms / 1_000
    }
}

/// An L402 offer: an invoice and the macaroon minted for it, redeemable at `verify_url` too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct L402Offer {
    pub challenge_id: String,
    /// Standard base64 of the V2 binary macaroon.
    pub macaroon: String,
    pub invoice: String,
    pub payment_hash: String,
    pub amount_sats: u32,
    pub expires_at_ms: u64,
}

/// A kind of challenge the gateway can offer at quota exhaustion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    Pow,
    L402,
    /// An x402 v2 payment (`crate::rails::x402`): stateless, nothing is minted to offer it.
    X402,
    /// An MPP `Payment` challenge (`crate::rails::mpp`), on the x402 rail's token and facilitator:
    /// stateless too, its id an HMAC over what it offers.
    Mpp,
}

/// One challenge offered in a 402, in the order the operator configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Offer {
    Pow(PowChallenge),
    L402(L402Offer),
    X402(X402Offer),
    Mpp(Box<crate::rails::mpp::MppChallenge>),
}

/// What the store holds about a challenge, as far as redemption cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Puzzle {
    Pow { salt: String, difficulty: u8 },
    L402 { payment_hash: [u8; 32] },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChallenge {
    pub puzzle: Puzzle,
    pub expires_at_ms: u64,
    pub redeemed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    Nonce(String),
    Preimage(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub challenge_id: String,
    pub proof: Proof,
}

/// Every way a redemption fails, each with its own status and code on the wire (`denial.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemError {
    InvalidRequest(&'static str),
    NotFound,
    InvalidSolution,
    Expired,
    AlreadyRedeemed,
}

#[derive(Deserialize)]
struct Body {
    challenge_id: Option<Value>,
    solution: Option<Value>,
    payment_proof: Option<Value>,
}

/// Parses a redemption body, refusing anything over [`MAX_REDEEM_BODY`] unread.
pub fn parse_redemption(body: &[u8]) -> Result<Redemption, RedeemError> {
    use RedeemError::InvalidRequest as Bad;
    if body.len() > MAX_REDEEM_BODY {
        return Err(Bad("body too large"));
    }
    let parsed: Body =
        serde_json::from_slice(body).map_err(|_| Bad("body is not a JSON object"))?;
    let challenge_id = match parsed.challenge_id {
        Some(Value::String(id)) if is_challenge_id(&id) => id,
        Some(_) => return Err(Bad("challenge_id must be 32 lowercase hex digits")),
        None => return Err(Bad("challenge_id is required")),
    };
    let proof = match (parsed.solution, parsed.payment_proof) {
        (Some(s), None) => {
            Proof::Nonce(nonce_from(&s).ok_or(Bad("solution.nonce must be a decimal u64"))?)
        }
        (None, Some(p)) => Proof::Preimage(
            p.get("preimage")
                .and_then(Value::as_str)
                .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or(Bad("payment_proof.preimage must be 64 hex digits"))?
                .to_ascii_lowercase(),
        ),
        _ => return Err(Bad("exactly one of solution or payment_proof is required")),
    };
    Ok(Redemption {
        challenge_id,
        proof,
    })
}

fn is_challenge_id(id: &str) -> bool {
    id.len() == ID_BYTES * 2 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The nonce may be sent as a decimal string or as a JSON integer.
fn nonce_from(solution: &Value) -> Option<String> {
    let nonce = match solution.get("nonce")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_u64()?.to_string(),
        _ => return None,
    };
    pow::is_canonical_nonce(&nonce).then_some(nonce)
}

/// Judges a proof against the stored challenge at `now_ms`. Spent beats expired, since a spent
/// challenge will never be redeemable again whatever the time. A proof of the wrong kind (a
/// preimage for a work challenge) is simply not a solution.
pub fn assess(stored: &StoredChallenge, proof: &Proof, now_ms: u64) -> Result<(), RedeemError> {
    if stored.redeemed {
        return Err(RedeemError::AlreadyRedeemed);
    }
    if now_ms >= stored.expires_at_ms {
        return Err(RedeemError::Expired);
    }
    let solved = match (&stored.puzzle, proof) {
        (Puzzle::Pow { salt, difficulty }, Proof::Nonce(nonce)) => {
            pow::meets_difficulty(salt, nonce, *difficulty)
        }
        (Puzzle::L402 { payment_hash }, Proof::Preimage(hex)) => {
            from_hex(hex).is_some_and(|pre| ct_eq(&Sha256::digest(pre), payment_hash))
        }
        _ => false,
    };
    if solved {
        Ok(())
    } else {
        Err(RedeemError::InvalidSolution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(difficulty: u8) -> StoredChallenge {
        StoredChallenge {
            puzzle: Puzzle::Pow {
                salt: "c0ffee00c0ffee00c0ffee00c0ffee00".into(),
                difficulty,
            },
            expires_at_ms: 60_000,
            redeemed: false,
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_new_challenge_takes_id_and_salt_from_the_random_bytes() {
        let mut random = [0u8; 32];
        random[0] = 0xab;
        random[31] = 0x01;
        let c = PowChallenge::new(&random, 14, 1_999, 60);
        assert_eq!(c.id, format!("ab{}", "0".repeat(30)));
        assert_eq!(c.salt, format!("{}01", "0".repeat(30)));
        assert_eq!(
            c.expires_at_ms, 61_000,
            "expiry floors to the advertised second"
        );
        assert_eq!(c.expires_at_s(), 61);
    }

    #[test]
    fn a_nonce_parses_from_string_or_integer() {
        for body in [
            format!(r#"{{"challenge_id":"{ID}","solution":{{"nonce":"39431"}}}}"#),
            format!(r#"{{"challenge_id":"{ID}","solution":{{"nonce":39431}}}}"#),
        ] {
            let r = parse_redemption(body.as_bytes()).unwrap();
            assert_eq!(r.proof, Proof::Nonce("39431".into()));
            assert_eq!(r.challenge_id, ID);
        }
    }

    #[test]
    fn malformed_bodies_are_invalid_requests() {
        let long = format!(
            r#"{{"challenge_id":"{ID}","solution":{{"nonce":"{}"}}}}"#,
            "1".repeat(MAX_REDEEM_BODY)
        );
        for body in [
            "",
            "[]",
            "{}",
            r#"{"challenge_id":"xyz","solution":{"nonce":"1"}}"#,
            &format!(r#"{{"challenge_id":"{ID}"}}"#),
            &format!(r#"{{"challenge_id":"{ID}","solution":{{"nonce":"-1"}}}}"#),
            &format!(r#"{{"challenge_id":"{ID}","solution":{{"nonce":1.5}}}}"#),
            &format!(
                r#"{{"challenge_id":"{ID}","solution":{{"nonce":"1"}},"payment_proof":{{"preimage":"00"}}}}"#
            ),
            &format!(r#"{{"challenge_id":"{ID}","payment_proof":{{"preimage":"zz"}}}}"#),
            &long,
        ] {
            assert!(
                matches!(
                    parse_redemption(body.as_bytes()),
                    Err(RedeemError::InvalidRequest(_))
                ),
                "{body:.60}"
            );
        }
    }

    #[test]
    fn the_right_nonce_redeems_and_a_wrong_one_does_not() {
        let s = stored(14);
        assert_eq!(assess(&s, &Proof::Nonce("39431".into()), 0), Ok(()));
        assert_eq!(
            assess(&s, &Proof::Nonce("39430".into()), 0),
            Err(RedeemError::InvalidSolution)
        );
        assert_eq!(
            assess(&s, &Proof::Preimage("00".repeat(32)), 0),
            Err(RedeemError::InvalidSolution)
        );
    }

    #[test]
    fn expiry_and_spent_state_are_judged_first() {
        let s = stored(14);
        assert_eq!(
            assess(&s, &Proof::Nonce("39431".into()), 60_000),
            Err(RedeemError::Expired)
        );
        let spent = StoredChallenge {
            redeemed: true,
            ..stored(14)
        };
        assert_eq!(
            assess(&spent, &Proof::Nonce("39431".into()), 70_000),
            Err(RedeemError::AlreadyRedeemed)
        );
    }

    #[test]
    fn a_paid_invoice_redeems_an_l402_challenge_and_nothing_else_does() {
        let preimage = [5u8; 32];
        let s = StoredChallenge {
            puzzle: Puzzle::L402 {
                payment_hash: Sha256::digest(preimage).into(),
            },
            expires_at_ms: 60_000,
            redeemed: false,
        };
        assert_eq!(assess(&s, &Proof::Preimage(to_hex(&preimage)), 0), Ok(()));
        assert_eq!(
            assess(&s, &Proof::Preimage(to_hex(&[6u8; 32])), 0),
            Err(RedeemError::InvalidSolution)
        );
        assert_eq!(
            assess(&s, &Proof::Nonce("1".into()), 0),
            Err(RedeemError::InvalidSolution)
        );
    }
}
