//! Outbound `fetch` with a deadline on the response headers, shared by the proxy and the invoice
//! backends. Only the wait for headers is bounded: a body that streams for minutes (SSE) after
//! them is the protocol working, so the abort signal is never fired once headers are in.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use worker::{AbortController, Delay, Fetch, Request, Response};

pub enum Failure {
    Unreachable(String),
    Timeout,
}

pub async fn fetch(request: Request, timeout_ms: u32) -> Result<Response, Failure> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = Fetch::Request(request);
    let fetch = call.send_with_signal(&signal);
    let timeout = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    pin_mut!(fetch);
    pin_mut!(timeout);
    match select(fetch, timeout).await {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(e), _)) => Err(Failure::Unreachable(e.to_string())),
        Either::Right(_) => {
            controller.abort();
            Err(Failure::Timeout)
        }
    }
}
