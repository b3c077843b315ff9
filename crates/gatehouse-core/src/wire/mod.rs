//! What goes on the wire and how it is read: every denial and its one mapping to HTTP and
//! JSON-RPC, header rules, the strict JSON reader, URLs and bytes.

pub mod bytes;
pub mod denial;
pub mod headers;
pub mod json_object;
pub mod json_strict;
pub mod query;
pub mod request_url;
