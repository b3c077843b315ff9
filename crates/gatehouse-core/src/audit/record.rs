//! One row of the audit trail: the log line's fields and the `audit` table's columns
//! (migrations/0003_audit.sql), in one type, so that the two cannot drift and the hot path builds
//! no JSON tree: a record is serialized straight to its log line, and the D1 insert reads the
//! same JSON by column name.

use serde::Serialize;

/// The log line's `event` member: what the Workers Logs convention filters on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Event {
    #[default]
    #[serde(rename = "audit")]
    Audit,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    pub event: Event,
    pub ts: u64,
    pub route: String,
    pub identity: String,
    pub sub: Option<String>,
    pub client_id: Option<String>,
    pub tier: Option<String>,
    pub admitted_by: Option<String>,
    pub method: String,
    pub name: Option<String>,
    pub arguments: String,
    pub status: u16,
    pub latency_ms: u64,
    pub remaining: Option<u32>,
    pub challenge: String,
}

/// The `audit` table's columns: each a member of a record's JSON of the same name.
pub const COLUMNS: [&str; 14] = [
    "ts",
    "route",
    "identity",
    "sub",
    "client_id",
    "tier",
    "admitted_by",
    "method",
    "name",
    "arguments",
    "status",
    "latency_ms",
    "remaining",
    "challenge",
];

impl Record {
    /// The record as one JSON object: its log line's entry, and what the D1 insert unpacks by
    /// column name.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Rows (each a record's JSON) as JSON arrays of at most `max_bytes` each (a row longer than that
/// alone in its own), in order: the D1 insert's statements, each under what D1 binds.
pub fn json_arrays(rows: &[String], max_bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for row in rows {
        if current.len() > 1 && current.len() + row.len() + 2 > max_bytes {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(row);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    out
}
