//! Asks the configured Lightning backend (LNbits or LND REST) for an invoice. The request and the
//! reading of the answer are `gatehouse_core::rails::l402::invoice`; this is only the HTTP call.

use gatehouse_core::config::L402Config;
use gatehouse_core::rails::l402::invoice::{parse_answer, request, Invoice};
use worker::Headers;

use crate::platform::outbound::{self, Failure};

/// Invoices are on the path of a 402; a backend slower than this is treated as down.
const BACKEND_TIMEOUT_MS: u32 = 5_000;

pub async fn create(l402: &L402Config, memo: &str) -> Result<Invoice, String> {
    let s = &l402.settings;
    let call = request(
        l402.backend,
        &l402.backend_key,
        s.price_sats,
        memo,
        s.invoice_expiry_s,
    );
    let headers = Headers::new();
    for (name, value) in &call.headers {
        headers.set(name, value).map_err(|e| e.to_string())?;
    }
    let url = l402.backend_url.join(call.path);
    let body = call.body.into();
    let req = outbound::request(&url, "POST", Some(&headers), Some(&body), false)
        .map_err(|e| e.to_string())?;
    let mut response = match outbound::fetch(req, BACKEND_TIMEOUT_MS).await {
        Ok(r) => r,
        Err(Failure::Unreachable(e)) => return Err(format!("unreachable: {e}")),
        Err(Failure::Timeout) => return Err("timed out".into()),
    };
    let status = response.status_code();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    parse_answer(l402.backend, status, &body).map_err(|e| format!("{e:?}"))
}
