//! Invoice backends: the request each needs and the answer each gives, as pure data. The shell
//! sends the request and hands back status and body.
//!
//! - LNbits REST: `POST /api/v1/payments`, `X-Api-Key: <invoice key>`,
//!   `{"out":false,"amount":<sats>,"memo":…,"expiry":<s>}` → `{"payment_hash","bolt11"}`.
//! - LND REST (lnrpc `AddInvoice`): `POST /v1/invoices`, `Grpc-Metadata-macaroon: <hex>`,
//!   `{"value":"<sats>","memo":…,"expiry":"<s>"}` (int64 as strings, proto3 JSON) →
//!   `{"r_hash":"<base64>","payment_request":"lnbc…","add_index":"…"}`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::wire::bytes::{from_hex, to_hex};
use crate::wire::json_object::object;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Lnbits,
    Lnd,
}

impl Backend {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "lnbits" => Some(Self::Lnbits),
            "lnd" => Some(Self::Lnd),
            _ => None,
        }
    }
}

/// One HTTP call to make, relative to the backend's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub payment_hash: [u8; 32],
    pub bolt11: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceError {
    /// The backend answered with this status.
    Status(u16),
    /// The backend answered 2xx with something that is not an invoice.
    BadAnswer(&'static str),
}

pub fn request(backend: Backend, key: &str, amount_sats: u32, memo: &str, expiry_s: u32) -> Call {
    match backend {
        Backend::Lnbits => Call {
            path: "/api/v1/payments",
            headers: vec![
                ("x-api-key", key.to_string()),
                ("content-type", "application/json".into()),
            ],
            body: object([
                ("out", false.into()),
                ("amount", amount_sats.into()),
                ("memo", memo.into()),
                ("expiry", expiry_s.into()),
            ])
            .to_string(),
        },
        Backend::Lnd => Call {
            path: "/v1/invoices",
            headers: vec![
                ("grpc-metadata-macaroon", key.to_string()),
                ("content-type", "application/json".into()),
            ],
            body: object([
                ("value", amount_sats.to_string().into()),
                ("memo", memo.into()),
                ("expiry", expiry_s.to_string().into()),
            ])
            .to_string(),
        },
    }
}

pub fn parse_answer(backend: Backend, status: u16, body: &[u8]) -> Result<Invoice, InvoiceError> {
    if !(200..300).contains(&status) {
        return Err(InvoiceError::Status(status));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| InvoiceError::BadAnswer("not JSON"))?;
    let (hash, bolt11) = match backend {
        Backend::Lnbits => (
            v.get("payment_hash")
                .and_then(Value::as_str)
                .and_then(from_hex),
            v.get("bolt11")
                .or_else(|| v.get("payment_request"))
                .and_then(Value::as_str),
        ),
        Backend::Lnd => (
            v.get("r_hash")
                .and_then(Value::as_str)
                .and_then(|h| STANDARD.decode(h).ok()),
            v.get("payment_request").and_then(Value::as_str),
        ),
    };
    let payment_hash: [u8; 32] = hash
        .and_then(|h| h.try_into().ok())
        .ok_or(InvoiceError::BadAnswer("no 32-byte payment hash"))?;
    let bolt11 = bolt11
        .filter(|b| {
            b.len() < 2_048
                && b.to_ascii_lowercase().starts_with("ln")
                && b.bytes().all(|c| c.is_ascii_alphanumeric())
        })
        .ok_or(InvoiceError::BadAnswer("no BOLT11 payment request"))?;
    Ok(Invoice {
        payment_hash,
        bolt11: bolt11.to_string(),
    })
}

impl Invoice {
    pub fn payment_hash_hex(&self) -> String {
        to_hex(&self.payment_hash)
    }
}

#[cfg(test)]
mod tests;
