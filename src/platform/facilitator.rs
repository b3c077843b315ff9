//! The HTTP calls to the x402 facilitator's `/verify` and `/settle` (x402 v2 §7). What is sent
//! and how an answer is read is `gatehouse_core::rails::x402::facilitator`; this is only the transport:
//! a deadline on the whole exchange, no redirect followed (the configured URL is the one the
//! SSRF rules checked, not wherever it points), and a capped body. A facilitator that is down,
//! slow, or answers with anything but the specification's objects is a 503 with `Retry-After`.

use gatehouse_core::config::X402Config;
use gatehouse_core::rails::x402::facilitator::{
    read_settle, read_verify, request_body, Settlement, MAX_FACILITATOR_BODY, SETTLE_PATH,
    VERIFY_PATH,
};
use gatehouse_core::rails::x402::payload::Payment;
use gatehouse_core::rails::x402::{Rejection, Requirement};
use gatehouse_core::wire::denial::{Denial, Dependency};
use worker::Headers;

use crate::platform::outbound::{self, Failure};
use crate::platform::respond;

/// How a facilitator call failed: it refused the payment, or it is unavailable (then a 503).
pub enum Failed {
    Refused(Rejection),
    Unavailable(Denial),
}

fn unavailable(error: impl std::fmt::Display) -> Failed {
    Failed::Unavailable(respond::dependency_failed(Dependency::Facilitator, error))
}

/// Posts `body` to the facilitator's `path`; its status and at most the capped body.
async fn post(x: &X402Config, path: &str, body: String) -> Result<(u16, Vec<u8>), String> {
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|e| e.to_string())?;
    if let Some(auth) = &x.facilitator_auth {
        headers
            .set("authorization", auth)
            .map_err(|e| e.to_string())?;
    }
    let url = x.facilitator_url.join(path);
    let req = outbound::request(&url, "POST", Some(&headers), Some(&body.into()), true)
        .map_err(|e| e.to_string())?;
    let mut res = match outbound::fetch(req, x.timeout_ms).await {
        Ok(res) => res,
        Err(Failure::Unreachable(e)) => return Err(format!("{path} unreachable: {e}")),
        Err(Failure::Timeout) => return Err(format!("{path} timed out")),
    };
    let status = res.status_code();
    let body = outbound::read_capped(&mut res, MAX_FACILITATOR_BODY, x.timeout_ms)
        .await
        .map_err(|e| format!("{path} {e}"))?;
    Ok((status, body))
}

/// Asks the facilitator whether `payment` pays `req`.
pub async fn verify(x: &X402Config, payment: &Payment, req: &Requirement) -> Result<(), Failed> {
    let (status, body) = post(x, VERIFY_PATH, request_body(payment, req))
        .await
        .map_err(unavailable)?;
    match read_verify(status, &body) {
        Some(Ok(())) => Ok(()),
        Some(Err(rejection)) => Err(Failed::Refused(rejection)),
        None => Err(unavailable(format!(
            "{VERIFY_PATH} answered {status} with no verdict"
        ))),
    }
}

/// Asks the facilitator to settle `payment` on chain.
pub async fn settle(
    x: &X402Config,
    payment: &Payment,
    req: &Requirement,
) -> Result<Settlement, Failed> {
    let (status, body) = post(x, SETTLE_PATH, request_body(payment, req))
        .await
        .map_err(unavailable)?;
    match read_settle(status, &body, &req.network, payment) {
        Some(Ok(settlement)) => Ok(settlement),
        Some(Err(rejection)) => Err(Failed::Refused(rejection)),
        None => Err(unavailable(format!(
            "{SETTLE_PATH} answered {status} with no settlement"
        ))),
    }
}
