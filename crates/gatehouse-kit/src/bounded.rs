//! Every HTTP exchange of the kit (today: the Lightning backends' answers in `lightning`) goes
//! through here, so its bounds live in one place, the same as the JS kit's `read.mjs` and the
//! Python flow's `read_capped`:
//!
//! - an answer's body is read to at most [`MAX_BODY_BYTES`] (64 KiB; a wallet's JSON answer is a
//!   few hundred bytes), decoded; a larger one is an error, and nothing past the cap is read;
//! - an exchange has [`Deadlines`]: 10 s to connect and 10 s to send, 60 s for the answer's
//!   headers (a payment waits for its route), then 10 s for the whole body, and no more than the
//!   sum of them in all. A server that sends its headers and then trickles or stalls fails at
//!   the body's deadline;
//! - no redirect is followed (a wallet's key goes to the wallet's URL only), and a body not read
//!   is dropped with its connection, never read to its end.

use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

/// The most of an answer's body the kit reads.
pub const MAX_BODY_BYTES: u64 = 65_536;

/// How long each phase of an exchange may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// To resolve and connect, and again to send the request and its body.
    pub connect: Duration,
    /// From the request sent to the answer's last header.
    pub answer: Duration,
    /// From the answer's headers to its body's last byte.
    pub body: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            answer: Duration::from_secs(60),
            body: Duration::from_secs(10),
        }
    }
}

impl Deadlines {
    /// An agent that keeps to these deadlines, follows no redirect, and hands back every status.
    pub fn agent(&self) -> Agent {
        let total = self.connect * 3 + self.answer + self.body;
        Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(total))
            .timeout_resolve(Some(self.connect))
            .timeout_connect(Some(self.connect))
            .timeout_send_request(Some(self.connect))
            .timeout_send_body(Some(self.connect))
            .timeout_recv_response(Some(self.answer))
            .timeout_recv_body(Some(self.body))
            .build()
            .into()
    }
}

/// The body of `res` as text: at most [`MAX_BODY_BYTES`], complete within the agent's body
/// deadline, or an error naming the bound it broke.
pub fn read_capped(res: &mut Response<Body>) -> Result<String, String> {
    res.body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_string()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => format!("an answer over {MAX_BODY_BYTES} bytes"),
            ureq::Error::Timeout(phase) => format!("an answer not complete in time ({phase})"),
            e => e.to_string(),
        })
}
