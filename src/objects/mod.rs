//! The Durable Objects, one class per concern, each a thin read → core step → write, and the
//! calls the Worker makes to them.

pub mod call;
pub mod client_counter;
pub mod credential_counter;
pub mod metrics;
pub mod metrics_sink;
