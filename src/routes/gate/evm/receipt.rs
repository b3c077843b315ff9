//! Settling a verified payment before the origin is asked, and the origin's answer with the
//! protocol's receipt: `PAYMENT-RESPONSE` (x402) or `Payment-Receipt` (MPP), and for a payment
//! made inside MCP the result's `_meta`, spliced into the origin's bytes.

use futures_util::StreamExt;
use gatehouse_core::mcp::{MAX_POLICY_BODY, X402_PAYMENT_RESPONSE_META_KEY};
use gatehouse_core::rails::mpp;
use gatehouse_core::rails::x402::facilitator::failed_settlement;
use gatehouse_core::rails::x402::mcp::{json_with_settlement, InBandReply, SseSettlement};
use gatehouse_core::rails::x402::PAYMENT_RESPONSE_HEADER;
use gatehouse_core::wire::denial::Denial;
use serde_json::Value;
use worker::Response;

use super::super::Pass;
use super::refusals::count_refusal;
use super::Paid;
use crate::platform::body::{self, Peeked};
use crate::platform::facilitator::{self, Failed};
use crate::platform::reply::Reply;
use crate::stores::x402_payments as payments;

/// What a settled payment leaves for the answer: the receipt header (`PAYMENT-RESPONSE` for
/// x402, `Payment-Receipt` for MPP) and, for a payment made inside MCP, the receipt for the
/// result's `_meta` under the protocol's key.
pub(crate) struct Settled {
    receipt: (&'static str, String),
    in_band: Option<(InBandReply, &'static str, Value)>,
}

/// Settles the payment before the origin is asked; the request is refused if it does not settle.
pub(crate) async fn settle(p: &Pass<'_>, paid: Paid) -> Result<Option<Settled>, Denial> {
    let Some(x) = p.cfg.x402.as_ref() else {
        return Ok(None);
    };
    match facilitator::settle(x, &paid.payment, paid.requirement()).await {
        Ok(settlement) => {
            payments::record(p.env, &paid.payment.id, Some(&settlement.transaction)).await;
            let (header, key, receipt) = match &paid.wire.mpp {
                Some((_, challenge_id)) => {
                    let receipt = mpp::receipt(&settlement.transaction, challenge_id, p.now_ms);
                    let header = (mpp::RECEIPT_HEADER, mpp::receipt_header(&receipt));
                    (header, mpp::RECEIPT_META_KEY, receipt)
                }
                None => (
                    (PAYMENT_RESPONSE_HEADER, settlement.header()),
                    X402_PAYMENT_RESPONSE_META_KEY,
                    settlement.to_json(),
                ),
            };
            Ok(Some(Settled {
                receipt: header,
                in_band: paid.wire.in_band.map(|reply| (reply, key, receipt)),
            }))
        }
        Err(Failed::Refused(rejection)) => {
            payments::record(p.env, &paid.payment.id, None).await;
            count_refusal(p).await?;
            let reason = rejection.code().to_string();
            let settlement = failed_settlement(&reason, &x.settings.network, &paid.payment.payer);
            // Over x402 the failed `SettlementResponse` goes back with the refusal; over MPP the
            // refusal is the protocol's own problem, with a fresh challenge.
            Err(match paid.refusal(rejection) {
                Denial::InvalidX402(mut refusal) => {
                    refusal.settlement = Some(settlement);
                    Denial::InvalidX402(refusal)
                }
                other => other,
            })
        }
        Err(Failed::Unavailable(denial)) => {
            // It may have settled after all: the payload is spent, never to be tried again.
            payments::record(p.env, &paid.payment.id, None).await;
            Err(denial)
        }
    }
}

/// The origin's answer to a settled payment, with its receipt: the header, and for a payment
/// made inside MCP the result's `_meta["x402/payment-response"]`, spliced into the origin's bytes:
/// into a JSON answer of at most `MAX_POLICY_BODY` (a longer one passes on as it comes, with the
/// header alone), or into the SSE event that carries the result, as the stream passes
/// (`x402::mcp::SseSettlement`: nothing waits for the stream to end). Any other answer keeps the
/// header alone.
pub(crate) async fn with_receipt(
    served: Result<Reply, Denial>,
    settled: Option<Settled>,
) -> Result<Reply, Denial> {
    let (mut response, settled) = match (served, settled) {
        (Ok(reply), Some(settled)) => (reply.into_built(), settled),
        (served, _) => return served,
    };
    response
        .headers_mut()
        .set(settled.receipt.0, &settled.receipt.1)
        .map_err(|_| Denial::Internal)?;
    let Some((reply, key, settlement)) = settled.in_band else {
        return Ok(response.into());
    };
    let kind = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let (headers, status) = (response.headers().clone(), response.status_code());
    // A status without content (RFC 9110 §15.3.5, §15.3.6, §15.4.5) has no body to carry the
    // settlement, and the runtime refuses to build one with a body: the header alone.
    if matches!(status, 204 | 205 | 304) {
        return Ok(response.into());
    }
    let rebuilt = if kind.starts_with("text/event-stream") {
        let stream = response.stream().map_err(|_| Denial::Internal)?;
        let rewriter = SseSettlement::new(reply.id, key, settlement);
        let passing = futures_util::stream::unfold(
            (stream, rewriter, false),
            |(mut stream, mut rewriter, ended)| async move {
                if ended {
                    return None;
                }
                match stream.next().await {
                    Some(Ok(chunk)) => Some((Ok(rewriter.feed(&chunk)), (stream, rewriter, false))),
                    Some(Err(e)) => Some((Err(e), (stream, rewriter, true))),
                    None => Some((Ok(rewriter.finish()), (stream, rewriter, true))),
                }
            },
        );
        Response::from_stream(passing).map_err(|_| Denial::Internal)?
    } else if kind.starts_with("application/json") {
        match body::peek_response(&mut response, MAX_POLICY_BODY).await? {
            Peeked::Whole(body) => {
                let body = json_with_settlement(&body, &reply.id, key, &settlement).unwrap_or(body);
                Response::from_bytes(body).map_err(|_| Denial::Internal)?
            }
            Peeked::Longer(read, rest) => {
                let head = futures_util::stream::once(async move { Ok(read) });
                Response::from_stream(head.chain(rest)).map_err(|_| Denial::Internal)?
            }
        }
    } else {
        return Ok(response.into());
    };
    headers
        .delete("content-length")
        .map_err(|_| Denial::Internal)?;
    Ok(rebuilt.with_status(status).with_headers(headers).into())
}
