//! The body step (docs/PROTOCOL.md §4): one reading of a POST body decides everything, and the
//! origin gets exactly those bytes. Its calls are read once, strictly, and checked against
//! `Mcp-Method` and `Mcp-Name`; what the gateway takes out of it (an in-band token, a payment in
//! `_meta`) is cut from the bytes.

use gatehouse_core::mcp::{
    calls, check_content_encoding, check_headers, check_media_type, is_batch, take_in_band_token,
    take_x402_payment, MAX_POLICY_BODY,
};
use gatehouse_core::wire::denial::Denial;
use worker::{Method, Request};

use super::facts::{non_empty_header, Incoming};
use super::Pass;
use crate::platform::body;

/// The body step: one reading of a POST body decides everything, and the origin gets exactly
/// those bytes. A body the gateway cannot read is refused, never forwarded unread
/// (docs/PROTOCOL.md §4). The module entry may have read it already (`quick.rs`).
pub(super) async fn read_body(
    req: &mut Request,
    p: &mut Pass<'_>,
    pre_read: Option<Vec<u8>>,
) -> Result<(), Denial> {
    if req.method() != Method::Post {
        return Ok(());
    }
    body_headers(req)?;
    let raw = match pre_read {
        Some(bytes) => body::as_declared(req, bytes, MAX_POLICY_BODY)?,
        None => body::read_capped(req, MAX_POLICY_BODY).await?,
    };
    judge_body(req, p, raw).map(|_| ())
}

/// What a POST body must be declared as, checked before it is read.
pub(super) fn body_headers(req: &dyn Incoming) -> Result<(), Denial> {
    check_media_type(non_empty_header(req, "content-type").as_deref()).map_err(Denial::Body)?;
    check_content_encoding(non_empty_header(req, "content-encoding").as_deref())
        .map_err(Denial::Body)
}

/// The body's calls, checked against `Mcp-Method` and `Mcp-Name`, with what the gateway takes
/// out of it (an in-band token, a payment) cut from the bytes the origin will get: `true` when
/// something was.
pub(super) fn judge_body(
    req: &dyn Incoming,
    p: &mut Pass<'_>,
    mut raw: Vec<u8>,
) -> Result<bool, Denial> {
    let parsed = calls(&raw).map_err(Denial::Body)?;
    check_headers(
        non_empty_header(req, "mcp-method").as_deref(),
        non_empty_header(req, "mcp-name").as_deref(),
        Some(&parsed),
    )
    .map_err(|id| Denial::McpHeaderMismatch { id })?;
    if parsed.len() > p.cfg.limits.max_batch_calls {
        return Err(Denial::TooManyCalls {
            limit: p.cfg.limits.max_batch_calls,
        });
    }
    // An in-band token is a credential for the gateway: it never reaches the origin, whether or
    // not this route takes tokens in-band and whatever header came with it.
    let mut cut = false;
    if let Some((token, rest)) = take_in_band_token(&raw) {
        p.in_band_token = Some(token);
        (raw, cut) = (rest, true);
    }
    // So is a payment in `_meta`: the gateway takes it, and the origin never sees it.
    if let Some((payment, rest)) = take_x402_payment(&raw) {
        p.mcp_payment = Some(payment);
        (raw, cut) = (rest, true);
    }
    if let Some((credential, rest)) = gatehouse_core::rails::mpp::credential::take_from_body(&raw) {
        p.mcp_credential = Some(credential);
        (raw, cut) = (rest, true);
    }
    p.batch = is_batch(&raw);
    p.calls = parsed;
    p.body = Some(raw);
    Ok(cut)
}
