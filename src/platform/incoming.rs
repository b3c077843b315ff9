//! What the gate reads of a request before its body, whichever way it came in: the `worker`
//! crate's `Request` on the async path, or the header list the module entry hands over in one
//! call on the quick one (`routes::gate::quick`).

use worker::Request;

/// A request as the gate reads it.
pub trait Incoming {
    /// A header's value as the runtime's `Headers.get` gives it (repeats joined by `, `).
    fn header(&self, name: &str) -> Option<String>;
    fn url(&self) -> String;
    /// Whether the request came through Cloudflare's edge (it carries `cf`).
    fn via_edge(&self) -> bool;
}

impl Incoming for Request {
    fn header(&self, name: &str) -> Option<String> {
        self.headers().get(name).ok().flatten()
    }
    fn url(&self) -> String {
        self.inner().url()
    }
    fn via_edge(&self) -> bool {
        self.cf().is_some()
    }
}
