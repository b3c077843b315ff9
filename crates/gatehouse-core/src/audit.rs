//! The audit trail: one record per tool call (and resource read), with the caller, the call, its
//! arguments redacted and truncated, the response status and latency, the rate-limit state and
//! the challenge outcome. The shell writes each as one JSON log line (the Workers Logs
//! convention) and as a D1 row, off the response path.

use serde_json::{json, Map, Value};

use crate::mcp::Call;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    pub enabled: bool,
    /// Argument keys (any depth, case-insensitive) whose values are replaced by "[redacted]".
    pub redact_keys: Vec<String>,
    /// Serialized arguments longer than this are cut, and marked so.
    pub max_arg_bytes: usize,
    pub retention_days: u32,
}

pub const DEFAULT_REDACT_KEYS: &str =
    "password,passwd,secret,token,access_token,api_key,apikey,authorization,cookie";

fn redact_value(v: &Value, keys: &[String]) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let hidden = keys.iter().any(|r| r.eq_ignore_ascii_case(k));
                    (
                        k.clone(),
                        if hidden {
                            json!("[redacted]")
                        } else {
                            redact_value(v, keys)
                        },
                    )
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| redact_value(i, keys)).collect()),
        other => other.clone(),
    }
}

/// The arguments as they are stored: redacted, serialized, and cut at a character boundary.
pub fn stored_arguments(args: Option<&Value>, s: &AuditSettings) -> String {
    let Some(args) = args else {
        return String::new();
    };
    let mut text = redact_value(args, &s.redact_keys).to_string();
    if text.len() > s.max_arg_bytes {
        let mut cut = s.max_arg_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…[truncated]");
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

/// One record per audited call in the request.
pub fn records(
    route: &str,
    calls: &[Call],
    caller: &Caller,
    outcome: &Outcome,
    now_ms: u64,
    s: &AuditSettings,
) -> Vec<Value> {
    calls
        .iter()
        .filter(|c| {
            matches!(
                c.method.as_str(),
                "tools/call" | "resources/read" | "prompts/get"
            )
        })
        .map(|c| {
            json!({
                "event": "audit",
                "ts": now_ms,
                "route": route,
                "identity": caller.client_key,
                "sub": caller.subject,
                "client_id": caller.client_id,
                "tier": caller.tier,
                "admitted_by": caller.admitted_by,
                "method": c.method,
                "name": c.name,
                "arguments": stored_arguments(c.arguments.as_ref(), s),
                "status": outcome.status,
                "latency_ms": outcome.latency_ms,
                "remaining": outcome.remaining,
                "challenge": outcome.challenge,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max: usize) -> AuditSettings {
        AuditSettings {
            enabled: true,
            redact_keys: DEFAULT_REDACT_KEYS.split(',').map(str::to_string).collect(),
            max_arg_bytes: max,
            retention_days: 30,
        }
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let args = json!({"user": "ann", "Password": "hunter2", "nested": [{"api_key": "k"}], "note": "token here is fine"});
        let stored = stored_arguments(Some(&args), &settings(1_000));
        assert!(
            !stored.contains("hunter2") && !stored.contains("\"k\""),
            "{stored}"
        );
        assert!(stored.contains("[redacted]") && stored.contains("token here is fine"));
    }

    #[test]
    fn long_arguments_are_truncated_at_a_character_boundary() {
        let args = json!({"text": "é".repeat(100)});
        let stored = stored_arguments(Some(&args), &settings(21));
        assert!(stored.ends_with("…[truncated]"));
        assert!(stored.len() <= 21 + "…[truncated]".len());
    }

    #[test]
    fn only_calls_are_recorded_one_each() {
        let calls = [
            Call {
                method: "tools/call".into(),
                name: Some("echo".into()),
                arguments: Some(json!({"message": "hi"})),
                ..Call::default()
            },
            Call {
                method: "notifications/initialized".into(),
                ..Call::default()
            },
            Call {
                method: "resources/read".into(),
                name: Some("file:///x".into()),
                ..Call::default()
            },
        ];
        let caller = Caller {
            client_key: "sub:a".into(),
            admitted_by: "quota".into(),
            ..Caller::default()
        };
        let outcome = Outcome {
            status: 200,
            latency_ms: 12,
            remaining: Some(4),
            challenge: String::new(),
        };
        let r = records("files", &calls, &caller, &outcome, 5, &settings(100));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["name"], "echo");
        assert_eq!(r[0]["arguments"], r#"{"message":"hi"}"#);
        assert_eq!(r[1]["method"], "resources/read");
    }
}
