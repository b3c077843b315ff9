//! Reads a request body with a hard size cap, so a client cannot make the gateway buffer more
//! than the cap whatever it declares.
//!
//! A body with a `Content-Length` within the cap is taken in one call: HTTP framing
//! (RFC 9112 §6.2) makes the declared length the body's length, and the runtime never hands over
//! more. A body without one (chunked) is read chunk by chunk, stopping at the first byte past the
//! cap. The one-call read matters: each chunk of a stream costs two crossings into the runtime.

use futures_util::StreamExt;
use gatehouse_core::wire::denial::Denial;
use worker::{ByteStream, Request, Response};

use crate::platform::incoming::Incoming;

pub async fn read_capped(req: &mut Request, cap: usize) -> Result<Vec<u8>, Denial> {
    match declared(req) {
        Some(n) if n > cap => Err(Denial::PayloadTooLarge { limit: cap }),
        Some(n) => {
            let bytes = req
                .bytes()
                .await
                .map_err(|_| Denial::InvalidRequest("the request body could not be read"))?;
            within(bytes, n, cap)
        }
        None => read_stream(req, cap).await,
    }
}

/// A body the module entry read in one call, held to the same rules as one read here: the
/// entry reads only a body with a `Content-Length` within the cap.
pub fn as_declared(req: &dyn Incoming, bytes: Vec<u8>, cap: usize) -> Result<Vec<u8>, Denial> {
    match declared(req) {
        Some(n) if n > cap => Err(Denial::PayloadTooLarge { limit: cap }),
        Some(n) => within(bytes, n, cap),
        None if bytes.len() > cap => Err(Denial::PayloadTooLarge { limit: cap }),
        None => Ok(bytes),
    }
}

fn declared(req: &dyn Incoming) -> Option<usize> {
    req.header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
}

fn within(bytes: Vec<u8>, declared: usize, cap: usize) -> Result<Vec<u8>, Denial> {
    // Never more than declared; checked all the same, the cap is the promise.
    if bytes.len() > cap || bytes.len() != declared {
        return Err(Denial::InvalidRequest(
            "the request body did not match its length",
        ));
    }
    Ok(bytes)
}

async fn read_stream(req: &mut Request, cap: usize) -> Result<Vec<u8>, Denial> {
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| Denial::InvalidRequest("the request body could not be read"))?;
        if out.len() + chunk.len() > cap {
            return Err(Denial::PayloadTooLarge { limit: cap });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// An origin's response body read up to `cap` bytes: whole, or the part read and the rest of
/// the stream when it is longer (to be passed on as it comes).
pub enum Peeked {
    Whole(Vec<u8>),
    Longer(Vec<u8>, ByteStream),
}

pub async fn peek_response(res: &mut Response, cap: usize) -> Result<Peeked, Denial> {
    let Ok(mut stream) = res.stream() else {
        return Ok(Peeked::Whole(Vec::new()));
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Denial::OriginUnreachable)?;
        out.extend_from_slice(&chunk);
        if out.len() > cap {
            return Ok(Peeked::Longer(out, stream));
        }
    }
    Ok(Peeked::Whole(out))
}
