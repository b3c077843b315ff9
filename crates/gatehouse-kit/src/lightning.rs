//! Paying L402 invoices from the kit: through an LNbits wallet (REST, `POST /api/v1/payments`
//! with the wallet's admin key) or an LND node (REST `SendPaymentSync`,
//! `POST /v1/channels/transactions` with an invoice-paying macaroon). Either returns the
//! preimage, which with the macaroon makes the L402 credential. Every payment first passes the
//! caller's `Budget`, which reads the amount from the invoice itself; every answer is read within
//! the bounds of `bounded` (64 KiB, and deadlines), so a backend cannot hang or bloat the kit.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use ureq::Agent;

use crate::bounded::{read_capped, Deadlines};
use crate::budget::Budget;

pub enum Wallet {
    Lnbits { url: String, admin_key: String },
    Lnd { url: String, macaroon_hex: String },
}

fn is_preimage(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads an LND `SendPaymentSync` answer: `payment_error` empty, `payment_preimage` base64.
pub fn lnd_preimage(answer: &Value) -> Result<String, String> {
    if let Some(err) = answer
        .get("payment_error")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
    {
        return Err(format!("LND could not pay: {err}"));
    }
    let raw = answer
        .get("payment_preimage")
        .and_then(Value::as_str)
        .ok_or("LND answered without a preimage")?;
    let bytes = STANDARD
        .decode(raw)
        .map_err(|_| "LND's preimage is not base64")?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if is_preimage(&hex) {
        Ok(hex)
    } else {
        Err("LND's preimage is not 32 bytes".into())
    }
}

/// One exchange with a backend: its JSON answer, or why there is none (a status other than
/// 2xx, an answer over the cap or past a deadline, or not JSON).
fn exchange(
    agent: &Agent,
    url: &str,
    header: (&str, &str),
    body: Option<&Value>,
) -> Result<Value, String> {
    let sent = match body {
        Some(body) => agent
            .post(url)
            .header(header.0, header.1)
            .header("content-type", "application/json")
            .send(body.to_string()),
        None => agent.get(url).header(header.0, header.1).call(),
    };
    let mut res = sent.map_err(|e| format!("{url}: {e}"))?;
    let status = res.status().as_u16();
    let text = read_capped(&mut res).map_err(|e| format!("{url}: {e}"))?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "{url} answered {status}: {}",
            text.chars().take(200).collect::<String>()
        ));
    }
    serde_json::from_str(&text).map_err(|_| format!("{url} did not answer JSON"))
}

impl Wallet {
    /// Pays `bolt11` if `budget` allows its amount, and returns the preimage in hex.
    pub fn pay(&self, bolt11: &str, budget: &Budget) -> Result<String, String> {
        self.pay_within(bolt11, budget, &Deadlines::default())
    }

    /// [`Wallet::pay`], with the backend's answers held to `deadlines`.
    pub fn pay_within(
        &self,
        bolt11: &str,
        budget: &Budget,
        deadlines: &Deadlines,
    ) -> Result<String, String> {
        budget.reserve(bolt11).map_err(|r| r.to_string())?;
        self.send(bolt11, &deadlines.agent())
    }

    fn send(&self, bolt11: &str, agent: &Agent) -> Result<String, String> {
        match self {
            Wallet::Lnbits { url, admin_key } => {
                let base = url.trim_end_matches('/');
                let key = ("x-api-key", admin_key.as_str());
                let paid = exchange(
                    agent,
                    &format!("{base}/api/v1/payments"),
                    key,
                    Some(&json!({ "out": true, "bolt11": bolt11 })),
                )?;
                if let Some(p) = paid
                    .get("preimage")
                    .and_then(Value::as_str)
                    .filter(|p| is_preimage(p))
                {
                    return Ok(p.to_string());
                }
                let hash = paid
                    .get("payment_hash")
                    .and_then(Value::as_str)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or("LNbits answered without a payment hash")?;
                let status = exchange(agent, &format!("{base}/api/v1/payments/{hash}"), key, None)?;
                status
                    .get("preimage")
                    .and_then(Value::as_str)
                    .filter(|p| is_preimage(p))
                    .map(str::to_string)
                    .ok_or_else(|| "LNbits gave no preimage".into())
            }
            Wallet::Lnd { url, macaroon_hex } => {
                let answer = exchange(
                    agent,
                    &format!("{}/v1/channels/transactions", url.trim_end_matches('/')),
                    ("grpc-metadata-macaroon", macaroon_hex),
                    Some(&json!({ "payment_request": bolt11 })),
                )?;
                lnd_preimage(&answer)
            }
        }
    }
}

/// The scheme of an L402 challenge and credential (docs/PROTOCOL.md §2); `LSAT` is its old name.
pub const L402_SCHEME: &str = "L402";
const LSAT_SCHEME: &str = "LSAT";

/// The `macaroon` and `invoice` of an `L402`/`LSAT` challenge (`WWW-Authenticate` value; other
/// challenges after it, comma-joined, are ignored).
pub fn parse_challenge(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if scheme != L402_SCHEME && scheme != LSAT_SCHEME {
        return None;
    }
    let field = |name: &str| {
        let start = rest.find(&format!("{name}=\""))? + name.len() + 2;
        let end = rest[start..].find('"')? + start;
        Some(rest[start..end].to_string())
    };
    Some((field("macaroon")?, field("invoice")?))
}

/// Pays the challenge's invoice, within `budget`, and returns the `Authorization` value that
/// gets through.
pub fn l402_authorization(
    challenge: &str,
    wallet: &Wallet,
    budget: &Budget,
) -> Result<String, String> {
    let (macaroon, invoice) = parse_challenge(challenge).ok_or("not an L402 challenge")?;
    let preimage = wallet.pay(&invoice, budget)?;
    Ok(format!("{L402_SCHEME} {macaroon}:{preimage}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_parses_even_with_a_pow_challenge_after_it() {
        let header =
            r#"L402 macaroon="AgJC+/=", invoice="lnbc30n1abc", PoW challenge_id="x", salt="y""#;
        assert_eq!(
            parse_challenge(header),
            Some(("AgJC+/=".into(), "lnbc30n1abc".into()))
        );
        assert!(parse_challenge(r#"PoW challenge_id="x""#).is_none());
    }

    #[test]
    fn an_invoice_over_budget_never_reaches_the_wallet() {
        // Nothing listens on port 9: had the kit tried to pay, the error would name the wallet.
        let wallet = Wallet::Lnbits {
            url: "http://127.0.0.1:9".into(),
            admin_key: "k".into(),
        };
        let doc: Value =
            serde_json::from_str(include_str!("../../../docs/bolt11-vectors.json")).unwrap();
        let coffee = doc["vectors"][1]["invoice"].as_str().unwrap();
        let err = wallet.pay(coffee, &Budget::default()).unwrap_err();
        assert!(err.starts_with("not paying"), "{err}");
        let err = wallet
            .pay(coffee, &Budget::new(1_000_000, 1_000_000))
            .unwrap_err();
        assert!(err.contains("127.0.0.1:9"), "within budget it pays: {err}");
    }

    // LND cannot run here: this answer follows LND's documented REST `SendPaymentSync` response
    // (lnrpc.SendResponse in proto3 JSON, bytes as base64), recorded by hand.
    #[test]
    fn a_recorded_lnd_payment_answer_gives_the_preimage() {
        let answer = json!({
            "payment_error": "",
            "payment_preimage": "UroQdbcyGPSNeBmVXDcu0DP2jxw6ilWndyrqM/LGlJU=",
            "payment_hash": "q35wHB78ClLl1VQIanvAEwS5zJtcdQgX+TLLrJnYFC8=",
        });
        assert_eq!(
            lnd_preimage(&answer).unwrap(),
            "52ba1075b73218f48d7819955c372ed033f68f1c3a8a55a7772aea33f2c69495"
        );
        assert!(
            lnd_preimage(&json!({"payment_error": "no route", "payment_preimage": ""}))
                .unwrap_err()
                .contains("no route")
        );
        assert!(lnd_preimage(&json!({"payment_error": "", "payment_preimage": "AAAA"})).is_err());
    }
}
