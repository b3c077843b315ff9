//! What a handler answers with: a response the gateway built, as the `worker` crate's
//! `Response`, or the origin's answer relayed as the runtime handed it over (`relay.rs`), which
//! goes back to the runtime as it is. The relayed answer is the hot path's: converting it into
//! the crate's type and back cost the `worker` crate's conversions (a crossing per field and a
//! second `Response` over the same stream) on every proxied request.

use worker::{web_sys, Response};

pub enum Reply {
    Built(Response),
    Relayed {
        response: web_sys::Response,
        status: u16,
    },
}

impl Reply {
    pub fn status(&self) -> u16 {
        match self {
            Reply::Built(r) => r.status_code(),
            Reply::Relayed { status, .. } => *status,
        }
    }

    /// A header of the answer, if it has it.
    pub fn header(&self, name: &str) -> Option<String> {
        match self {
            Reply::Built(r) => r.headers().get(name).ok().flatten(),
            Reply::Relayed { response, .. } => response.headers().get(name).ok().flatten(),
        }
    }

    /// As the `worker` crate's type, for the steps that rework an answer (a cached list, an x402
    /// receipt), at the cost of its conversion.
    pub fn into_built(self) -> Response {
        match self {
            Reply::Built(r) => r,
            Reply::Relayed { response, .. } => Response::from(response),
        }
    }

    /// As the runtime takes it.
    pub fn into_raw(self) -> web_sys::Response {
        match self {
            Reply::Built(r) => r.into(),
            Reply::Relayed { response, .. } => response,
        }
    }
}

impl From<Response> for Reply {
    fn from(r: Response) -> Self {
        Reply::Built(r)
    }
}
