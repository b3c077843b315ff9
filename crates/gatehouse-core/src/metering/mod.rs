//! What a client may spend: sliding-window quotas, the per-client counter's decisions, per-tool
//! limits and ceilings, the RateLimit headers, and the answer a spent quota gets.

pub mod client_counter;
pub mod exhaustion;
pub mod lease;
pub mod limits;
pub mod quota;
pub mod quota_memo;
pub mod ratelimit;
