//! One row of the audit trail: the log line's fields and the `audit` table's columns
//! (migrations/), in one type, so that the two cannot drift and the hot path builds no JSON tree:
//! a record is serialized straight to its log line, and bound column by column for D1.

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

/// The `audit` table's columns, in the order [`Record::columns`] gives their values.
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

/// A column's value as D1 binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column<'a> {
    Null,
    Int(u64),
    Text(&'a str),
}

fn text(s: &Option<String>) -> Column<'_> {
    s.as_deref().map_or(Column::Null, Column::Text)
}

impl Record {
    /// The record's values, one per [`COLUMNS`] entry.
    pub fn columns(&self) -> [Column<'_>; 14] {
        [
            Column::Int(self.ts),
            Column::Text(&self.route),
            Column::Text(&self.identity),
            text(&self.sub),
            text(&self.client_id),
            text(&self.tier),
            text(&self.admitted_by),
            Column::Text(&self.method),
            text(&self.name),
            Column::Text(&self.arguments),
            Column::Int(self.status.into()),
            Column::Int(self.latency_ms),
            self.remaining
                .map_or(Column::Null, |r| Column::Int(r.into())),
            Column::Text(&self.challenge),
        ]
    }

    /// The record as one JSON object, for its log line.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
