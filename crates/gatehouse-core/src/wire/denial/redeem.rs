//! How a failed redemption at the verify endpoint is told (docs/PROTOCOL.md §1).

use serde_json::Value;

use super::error;
use crate::rails::challenge::RedeemError;

pub(super) fn redeem_error(e: RedeemError) -> (u16, Value, Vec<(&'static str, String)>) {
    let (status, code, message) = match e {
        RedeemError::InvalidRequest(msg) => (400, "invalid_request", msg),
        RedeemError::NotFound => (404, "challenge_not_found", "no challenge with that id"),
        RedeemError::InvalidSolution => (
            400,
            "invalid_solution",
            "the proof does not meet the challenge",
        ),
        RedeemError::Expired => (
            410,
            "challenge_expired",
            "the challenge expired; request a new one",
        ),
        RedeemError::AlreadyRedeemed => (
            409,
            "challenge_already_redeemed",
            "the challenge was already redeemed",
        ),
    };
    (status, error(code, message), vec![])
}
