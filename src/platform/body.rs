//! Reads a request body with a hard size cap, stopping at the first byte past it, so a client
//! cannot make the gateway buffer more than the cap whatever its Content-Length says.

use futures_util::StreamExt;
use gatehouse_core::denial::Denial;
use worker::Request;

pub async fn read_capped(req: &mut Request, cap: usize) -> Result<Vec<u8>, Denial> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(Denial::PayloadTooLarge { limit: cap });
    }
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
