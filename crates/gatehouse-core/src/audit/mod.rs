//! The audit trail: one record per tool call (and resource read), with the caller, the call, its
//! arguments redacted (`redact`) and truncated, the response status and latency, the rate-limit
//! state and the challenge outcome. The shell writes each as one JSON log line (the Workers Logs
//! convention) and as a D1 row, off the response path.
//!
//! What a caller sends must not decide what the trail costs: a request yields at most
//! `MAX_ROWS_PER_REQUEST` rows (one, if refused before identity or payment), every text field is
//! cut to `bounds::MAX_FIELD_BYTES`, and `bounds::Batcher` caps rows per isolate and interval.

pub mod bounds;
pub mod record;
pub mod redact;

use serde_json::Value;

use crate::mcp::Call;
use crate::wire::json_object::object;
use bounds::{cut, MAX_FIELD_BYTES};
pub use record::Record;
pub use redact::DEFAULT_REDACT_KEYS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    pub enabled: bool,
    /// Extra key patterns, on top of `redact::KEY_PATTERNS`: a value whose key contains one
    /// (any depth, case-insensitive) is replaced by "[redacted]".
    pub redact_keys: Vec<String>,
    /// Serialized arguments longer than this are cut, and marked so.
    pub max_arg_bytes: usize,
    pub retention_days: u32,
}

/// Rows one request yields at most: the first calls one each, the rest folded into one `other`
/// row that says how many it stands for.
pub const MAX_ROWS_PER_REQUEST: usize = 16;

/// The arguments as they are stored: redacted, serialized, and cut at a character boundary.
pub fn stored_arguments(args: Option<&Value>, s: &AuditSettings) -> String {
    let Some(args) = args else {
        return String::new();
    };
    let text = redact::redact(args, &s.redact_keys).to_string();
    if text.len() > s.max_arg_bytes {
        return format!("{}…[truncated]", cut(&text, s.max_arg_bytes));
    }
    text
}

/// Who made the call, as the audit trail names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub client_key: String,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub tier: Option<String>,
    /// How the request was admitted: quota, token (pow or l402), l402.
    pub admitted_by: String,
}

/// What happened to the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    pub latency_ms: u64,
    pub remaining: Option<u32>,
    /// `challenge_402`, `challenge_in_band`, `rate_limited_429`, or empty.
    pub challenge: String,
}

fn audited(c: &Call) -> bool {
    matches!(
        c.method.as_str(),
        "tools/call" | "resources/read" | "prompts/get"
    )
}

/// Refused before the caller was identified or asked to pay: malformed, unauthenticated,
/// forbidden, unknown, too large or of the wrong type. Such a request is one row, not one per call.
pub fn refused_early(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 413 | 415)
}

/// How many of the calls the trail records (tool calls, resource reads, prompt gets).
pub fn audited_calls(calls: &[Call]) -> usize {
    calls.iter().filter(|c| audited(c)).count()
}

/// The rows of a request answered with a status `refused_early` covers (refused before its calls
/// ran, or so answered by the origin), from its first audited call's row: that row alone,
/// standing for all `audited` of them (their count as its arguments) when there are more.
pub fn early(first: Record, audited: usize) -> Vec<Record> {
    if audited < 2 {
        return vec![first];
    }
    let arguments = object([("calls", audited.into())]).to_string();
    vec![Record { arguments, ..first }]
}

/// The records of a request made before its answer was known, as an answered one's (`records`
/// with a status outside `refused_early`), settled once it is: the same rows `records` would
/// make with `outcome`. `audited` is [`audited_calls`] of the request's calls.
pub fn settle(mut rows: Vec<Record>, audited: usize, outcome: &Outcome) -> Vec<Record> {
    if refused_early(outcome.status) {
        rows = rows
            .into_iter()
            .next()
            .map_or_else(Vec::new, |first| early(first, audited));
    }
    for row in &mut rows {
        row.status = outcome.status;
        row.latency_ms = outcome.latency_ms;
        row.remaining = outcome.remaining;
        row.challenge = cut(&outcome.challenge, MAX_FIELD_BYTES).to_string();
    }
    rows
}

/// The records of one request: one per audited call, bounded as the module header says.
pub fn records(
    route: &str,
    calls: &[Call],
    caller: &Caller,
    outcome: &Outcome,
    now_ms: u64,
    s: &AuditSettings,
) -> Vec<Record> {
    let calls: Vec<&Call> = calls.iter().filter(|c| audited(c)).collect();
    let field = |v: &str| cut(v, MAX_FIELD_BYTES).to_string();
    let opt = |v: &Option<String>| v.as_deref().map(field);
    let row = |method: &str, name: Option<&str>, arguments: String| {
        let name = name.map(|n| field(&redact::mask_secrets(cut(n, 4 * MAX_FIELD_BYTES))));
        Record {
            ts: now_ms,
            route: field(route),
            identity: field(&caller.client_key),
            sub: opt(&caller.subject),
            client_id: opt(&caller.client_id),
            tier: opt(&caller.tier),
            admitted_by: Some(field(&caller.admitted_by)),
            method: field(method),
            name,
            arguments,
            status: outcome.status,
            latency_ms: outcome.latency_ms,
            remaining: outcome.remaining,
            challenge: field(&outcome.challenge),
            ..Record::default()
        }
    };
    let call_row = |c: &Call| {
        row(
            &c.method,
            c.name.as_deref(),
            stored_arguments(c.arguments.as_ref(), s),
        )
    };
    match calls.as_slice() {
        [] => Vec::new(),
        [first, ..] if refused_early(outcome.status) => early(call_row(first), calls.len()),
        _ if calls.len() <= MAX_ROWS_PER_REQUEST => calls.iter().map(|c| call_row(c)).collect(),
        _ => {
            let (kept, folded) = calls.split_at(MAX_ROWS_PER_REQUEST - 1);
            let mut out: Vec<Record> = kept.iter().map(|c| call_row(c)).collect();
            out.push(row(
                "other",
                Some("other"),
                object([("folded_calls", folded.len().into())]).to_string(),
            ));
            out
        }
    }
}

#[cfg(test)]
mod redact_tests;
#[cfg(test)]
mod tests;
