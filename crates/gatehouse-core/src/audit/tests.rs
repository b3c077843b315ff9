use super::*;
use serde_json::json;

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
    assert_eq!(r[0].name.as_deref(), Some("echo"));
    assert_eq!(r[0].arguments, r#"{"message":"hi"}"#);
    assert_eq!(r[1].method, "resources/read");
}

fn tool(name: &str) -> Call {
    Call {
        method: "tools/call".into(),
        name: Some(name.into()),
        arguments: Some(json!({ "n": name.len() })),
        ..Call::default()
    }
}

fn outcome(status: u16) -> Outcome {
    Outcome {
        status,
        ..Outcome::default()
    }
}

#[test]
fn a_large_batch_is_capped_and_the_rest_folded_into_one_other_row() {
    let calls: Vec<Call> = (0..500).map(|i| tool(&format!("t{i}"))).collect();
    let r = records(
        "files",
        &calls,
        &Caller::default(),
        &outcome(402),
        1,
        &settings(512),
    );
    assert_eq!(r.len(), MAX_ROWS_PER_REQUEST);
    assert_eq!(r[0].name.as_deref(), Some("t0"));
    let last = &r[MAX_ROWS_PER_REQUEST - 1];
    assert_eq!(
        (last.method.as_str(), last.name.as_deref()),
        ("other", Some("other"))
    );
    let folded = 500 - (MAX_ROWS_PER_REQUEST - 1);
    assert_eq!(last.arguments, format!("{{\"folded_calls\":{folded}}}"));
}

#[test]
fn a_batch_of_exactly_the_cap_is_not_folded() {
    let calls: Vec<Call> = (0..MAX_ROWS_PER_REQUEST)
        .map(|i| tool(&format!("t{i}")))
        .collect();
    let r = records(
        "f",
        &calls,
        &Caller::default(),
        &outcome(200),
        1,
        &settings(512),
    );
    assert_eq!(r.len(), MAX_ROWS_PER_REQUEST);
    assert!(r.iter().all(|row| row.method == "tools/call"));
}

#[test]
fn a_request_refused_before_identity_or_payment_is_one_row() {
    let calls: Vec<Call> = (0..500).map(|i| tool(&format!("t{i}"))).collect();
    for status in [400, 401, 403, 404, 413, 415] {
        let r = records(
            "f",
            &calls,
            &Caller::default(),
            &outcome(status),
            1,
            &settings(512),
        );
        assert_eq!(r.len(), 1, "{status}");
        assert_eq!(r[0].name.as_deref(), Some("t0"));
        assert_eq!(r[0].arguments, "{\"calls\":500}");
    }
    let one = records(
        "f",
        &calls[..1],
        &Caller::default(),
        &outcome(401),
        1,
        &settings(512),
    );
    assert_eq!(
        one[0].arguments, "{\"n\":2}",
        "a lone call keeps its arguments"
    );
}

#[test]
fn names_identities_and_labels_are_cut_at_a_character_boundary() {
    let long = "é".repeat(5_000);
    let caller = Caller {
        client_key: long.clone(),
        subject: Some(long.clone()),
        admitted_by: "quota".into(),
        ..Caller::default()
    };
    let r = records(
        &long,
        &[tool(&long)],
        &caller,
        &outcome(200),
        1,
        &settings(512),
    );
    let row = &r[0];
    let fields = [
        ("route", Some(&row.route)),
        ("identity", Some(&row.identity)),
        ("sub", row.sub.as_ref()),
        ("name", row.name.as_ref()),
    ];
    for (f, v) in fields {
        let v = v.unwrap();
        assert!(
            v.len() <= bounds::MAX_FIELD_BYTES && v.starts_with('é'),
            "{f}"
        );
    }
}

#[test]
fn secret_looking_tool_names_are_masked() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    let r = records(
        "f",
        &[tool(&format!("lookup {jwt}"))],
        &Caller::default(),
        &outcome(200),
        1,
        &settings(512),
    );
    assert_eq!(r[0].name.as_deref(), Some("lookup [redacted]"));
}

#[test]
fn a_record_is_logged_and_stored_with_the_same_fields() {
    let r = records(
        "files",
        &[tool("echo")],
        &Caller {
            client_key: "key:a".into(),
            tier: Some("pro".into()),
            admitted_by: "token".into(),
            ..Caller::default()
        },
        &Outcome {
            status: 200,
            latency_ms: 3,
            remaining: Some(7),
            challenge: String::new(),
        },
        42,
        &settings(512),
    );
    let logged: serde_json::Value = serde_json::from_str(&r[0].to_json()).unwrap();
    assert_eq!(logged["event"], "audit");
    for name in record::COLUMNS {
        assert!(logged.get(name).is_some(), "{name} is stored from the JSON");
    }
    assert_eq!(
        (&logged["ts"], &logged["status"], &logged["latency_ms"]),
        (&json!(42), &json!(200), &json!(3))
    );
    assert_eq!(logged.as_object().unwrap().len(), record::COLUMNS.len() + 1);
    assert_eq!(
        (&logged["tier"], &logged["remaining"]),
        (&json!("pro"), &json!(7))
    );
    assert_eq!(logged["sub"], serde_json::Value::Null);
}

#[test]
fn rows_go_to_d1_in_arrays_under_the_size_they_are_given() {
    let row = |i: usize| Record {
        method: "tools/call".into(),
        // Control characters escape to six bytes each: the JSON is what is bounded.
        name: Some(format!("t{i}\u{1}\u{1}")),
        arguments: "\"\\".repeat(300),
        ..Record::default()
    };
    let rows: Vec<String> = (0..40).map(|i| row(i).to_json()).collect();
    let one = rows[0].len();
    let arrays = record::json_arrays(&rows, 4 * one);
    assert!(arrays.len() > 1);
    let mut back = Vec::new();
    for a in &arrays {
        assert!(a.len() <= 4 * one, "{} > {}", a.len(), 4 * one);
        let parsed: Vec<serde_json::Value> = serde_json::from_str(a).unwrap();
        back.extend(parsed);
    }
    assert_eq!(
        back.len(),
        rows.len(),
        "every row once, none lost at a boundary"
    );
    for (i, v) in back.iter().enumerate() {
        assert_eq!(v["name"], format!("t{i}\u{1}\u{1}"), "in order");
    }
    assert_eq!(
        record::json_arrays(&rows[..1], 10).len(),
        1,
        "a long row alone"
    );
    assert!(record::json_arrays(&[], 10).is_empty());
}

mod settled {
    use super::*;
    use proptest::prelude::*;

    fn call(kind: u8, i: usize) -> Call {
        let (method, name) = match kind % 5 {
            0 => ("tools/call", Some(format!("tool{i}"))),
            1 => ("resources/read", Some(format!("file:///r{i}"))),
            2 => ("prompts/get", Some(format!("p{i}"))),
            3 => ("tools/list", None),
            _ => ("notifications/initialized", None),
        };
        Call {
            method: method.into(),
            name,
            id: (kind % 5 != 4).then(|| json!(i)),
            arguments: Some(json!({"n": i, "password": "x", "text": "é".repeat(i % 7)})),
            revision: None,
        }
    }

    /// Around the row cap, on both shapes, by name.
    #[test]
    fn settled_rows_at_the_row_cap_are_the_records_of_the_final_outcome() {
        let caller = Caller {
            client_key: "key:a".into(),
            ..Caller::default()
        };
        let s = settings(64);
        for n in [0, 1, 2, 15, 16, 17, 40] {
            let calls: Vec<Call> = (0..n).map(|i| call(0, i)).collect();
            for status in [200, 404, 502] {
                let answered = Outcome {
                    status: 200,
                    latency_ms: 0,
                    remaining: Some(3),
                    challenge: String::new(),
                };
                let last = Outcome {
                    status,
                    latency_ms: 7,
                    remaining: Some(3),
                    challenge: "x".into(),
                };
                let rows = records("main", &calls, &caller, &answered, 1_000, &s);
                assert_eq!(
                    settle(rows, audited_calls(&calls), &last),
                    records("main", &calls, &caller, &last, 1_000, &s),
                    "{n} calls, status {status}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Rows made as an answered request's and settled with the final outcome are the rows
        /// `records` makes with it: for every status, below and above the row cap, with no
        /// audited call at all, and with unaudited calls and notifications mixed in.
        #[test]
        fn settled_rows_are_the_records_of_the_final_outcome(
            kinds in prop::collection::vec(any::<u8>(), 0..40),
            status in prop::sample::select(vec![200u16, 202, 204, 400, 401, 402, 403, 404, 413, 415, 429, 500, 502, 503, 504]),
            latency_ms in 0u64..10_000,
            remaining in prop::option::of(0u32..100),
            challenge in prop::sample::select(vec!["", "challenge_402", "rate_limited_429", "origin_unreachable"]),
        ) {
            let calls: Vec<Call> = kinds.iter().enumerate().map(|(i, k)| call(*k, i)).collect();
            let caller = Caller { client_key: "key:a".into(), admitted_by: "token".into(), ..Caller::default() };
            let s = settings(64);
            let answered = Outcome { status: 200, latency_ms: 0, remaining, challenge: String::new() };
            let last = Outcome { status, latency_ms, remaining, challenge: challenge.into() };
            let early_rows = records("main", &calls, &caller, &answered, 1_000, &s);
            let settled = settle(early_rows, audited_calls(&calls), &last);
            prop_assert_eq!(settled, records("main", &calls, &caller, &last, 1_000, &s));
        }
    }
}
