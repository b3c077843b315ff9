use super::*;
use crate::wire::denial::Denial;
use serde_json::json;

fn rpc_refusal(body: &str) -> RpcRejection {
    match calls(body.as_bytes()) {
        Err(BodyRejection::Rpc(r)) => r,
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
fn requests_notifications_and_responses_are_read() {
    let body = r#"[{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo","arguments":{"m":1}}},
                   {"jsonrpc":"2.0","method":"notifications/initialized"},
                   {"jsonrpc":"2.0","id":null,"method":"ping","params":[]},
                   {"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"file:///x"}},
                   {"jsonrpc":"2.0","id":9007199254740991,"result":{}},
                   {"jsonrpc":"2.0","id":-4,"error":{"code":-1,"message":"no"}}]"#;
    let c = calls(body.as_bytes()).unwrap();
    assert_eq!(c.len(), 6);
    assert_eq!(
        (c[0].method.as_str(), c[0].name.as_deref(), &c[0].id),
        ("tools/call", Some("echo"), &Some(json!("a")))
    );
    assert_eq!(c[0].arguments, Some(json!({"m": 1})));
    assert_eq!(
        (c[1].method.as_str(), &c[1].id),
        ("notifications/initialized", &None)
    );
    assert_eq!(c[2].id, Some(Value::Null));
    assert_eq!(c[3].name.as_deref(), Some("file:///x"));
    assert_eq!(c[4], Call::default());
}

#[test]
fn the_body_must_be_a_message_or_a_non_empty_batch_of_objects() {
    for (body, why) in [
        ("42", RpcRejection::NotAMessage),
        (r#""tools/call""#, RpcRejection::NotAMessage),
        ("null", RpcRejection::NotAMessage),
        ("[]", RpcRejection::EmptyBatch),
        (
            r#"[{"jsonrpc":"2.0","method":"ping","id":1},1]"#,
            RpcRejection::ItemNotAnObject,
        ),
        ("[[]]", RpcRejection::ItemNotAnObject),
    ] {
        assert_eq!(rpc_refusal(body), why, "{body}");
    }
}

#[test]
fn each_message_must_be_json_rpc_2() {
    for (body, why) in [
        (r#"{"id":1,"method":"ping"}"#, RpcRejection::Version),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            RpcRejection::Version,
        ),
        (
            r#"{"jsonrpc":2.0,"id":1,"method":"ping"}"#,
            RpcRejection::Version,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            RpcRejection::Method,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":null}"#,
            RpcRejection::Method,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}"#,
            RpcRejection::Params,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#,
            RpcRejection::Params,
        ),
        (
            r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (
            r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (
            r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1e2,"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9007199254740992,"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (
            r#"{"jsonrpc":"2.0","id":-9007199254740992,"method":"ping"}"#,
            RpcRejection::Id,
        ),
        (r#"{"jsonrpc":"2.0","id":1}"#, RpcRejection::NotAResponse),
        (
            r#"{"jsonrpc":"2.0","result":{}}"#,
            RpcRejection::NotAResponse,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#,
            RpcRejection::NotAResponse,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"error":"x"}"#,
            RpcRejection::NotAResponse,
        ),
    ] {
        assert_eq!(rpc_refusal(body), why, "{body}");
    }
}

#[test]
fn a_call_the_gateway_prices_by_name_must_carry_the_name_as_a_string() {
    for (method, field, why) in [
        ("tools/call", "name", RpcRejection::Name),
        ("prompts/get", "name", RpcRejection::Name),
        ("resources/read", "uri", RpcRejection::Uri),
    ] {
        for params in [
            String::new(),
            r#","params":{}"#.into(),
            r#","params":["x"]"#.into(),
            format!(r#","params":{{"{field}":1}}"#),
            format!(r#","params":{{"{field}":null}}"#),
            format!(r#","params":{{"{field}":["x"]}}"#),
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"{params}}}"#);
            assert_eq!(rpc_refusal(&body), why, "{body}");
        }
        let value = if field == "uri" { "test://x" } else { "x" };
        let good = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{"{field}":"{value}"}}}}"#
        );
        assert_eq!(
            calls(good.as_bytes()).unwrap()[0].name.as_deref(),
            Some(value)
        );
    }
}

#[test]
fn a_subscription_needs_no_uri_but_one_given_is_a_canonical_string() {
    // MCP 2026-07-28 removed both methods: its clients' probes go to the origin, which answers.
    for method in ["resources/subscribe", "resources/unsubscribe"] {
        for params in ["", r#","params":{}"#, r#","params":{"_meta":{}}"#] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"{params}}}"#);
            assert_eq!(calls(body.as_bytes()).unwrap()[0].name, None, "{body}");
        }
        for (uri, why) in [
            ("1", RpcRejection::Uri),
            ("null", RpcRejection::Uri),
            (r#""TEST://x""#, RpcRejection::NonCanonicalUri),
        ] {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{"uri":{uri}}}}}"#
            );
            assert_eq!(rpc_refusal(&body), why, "{body}");
        }
    }
}

#[test]
fn a_body_json_readers_disagree_on_is_a_parse_error() {
    let scoped = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"x":"\ud800"}}}"#;
    assert_eq!(
        calls(scoped.as_bytes()),
        Err(BodyRejection::Json(JsonRejection::LoneSurrogate))
    );
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"a","arguments":{}1{}}}}}"#,
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    assert_eq!(
        calls(deep.as_bytes()),
        Err(BodyRejection::Json(JsonRejection::TooDeep))
    );
    assert_eq!(
        calls(&vec![b' '; MAX_POLICY_BODY + 1]),
        Err(BodyRejection::TooLarge)
    );
}

#[test]
fn only_application_json_in_utf8_is_read() {
    for ok in [
        "application/json",
        "Application/JSON",
        " application/json ; charset=utf-8",
        "application/json;charset=\"UTF-8\"",
        "application/json; charset=utf8; profile=x",
    ] {
        assert_eq!(check_media_type(Some(ok)), Ok(()), "{ok}");
    }
    for bad in [
        None,
        Some(""),
        Some("text/plain;charset=UTF-8"),
        Some("application/json-seq"),
        Some("application/jsonx"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=utf-16le"),
        Some("application/json; charset=iso-8859-1"),
        Some("application/json, text/plain"),
    ] {
        assert_eq!(
            check_media_type(bad),
            Err(BodyRejection::UnsupportedMediaType),
            "{bad:?}"
        );
    }
}

#[test]
fn each_refusal_has_its_status_and_json_rpc_code() {
    for (r, status, code) in [
        (BodyRejection::UnsupportedMediaType, 415, -32600),
        (
            BodyRejection::Json(JsonRejection::LoneSurrogate),
            400,
            -32700,
        ),
        (BodyRejection::Json(JsonRejection::Syntax), 400, -32700),
        (BodyRejection::Rpc(RpcRejection::Name), 400, -32600),
    ] {
        let wire = Denial::Body(r).to_wire();
        assert_eq!(wire.status, status, "{r:?}");
        assert_eq!(wire.body["jsonrpc"], "2.0");
        assert_eq!(wire.body["id"], Value::Null);
        assert_eq!(wire.body["error"]["code"], code, "{r:?}");
        assert_eq!(wire.body["error"]["data"]["reason"], r.as_str());
        assert_eq!(Denial::Body(r).log_detail(), format!("body:{}", r.as_str()));
    }
    let wire = Denial::Body(BodyRejection::TooLarge).to_wire();
    assert_eq!(
        (wire.status, &wire.body["error"]),
        (413, &json!("payload_too_large"))
    );
}

#[test]
fn resource_uris_must_be_in_the_form_the_origin_reads() {
    for ok in [
        "test://static-text",
        "file:///big/report.csv",
        "https://example.com/a%20b?q=1#x",
        "urn:isbn:0451450523",
        "test://template/8/data",
    ] {
        assert!(is_canonical_uri(ok), "{ok}");
    }
    for bad in [
        "TEST://static-text",
        " test://static-text",
        "test://static-text\n",
        "Test://static-text",
        "test://Host/x",
        "file:///x/../big/y",
        "file:///big/./y",
        "test://static%2Dtext",
        "test://a/%2f",
        "test:\\\\x",
        "no-scheme",
        "",
    ] {
        assert!(!is_canonical_uri(bad), "{bad:?}");
    }
}

#[test]
fn a_non_canonical_uri_is_refused_before_it_is_priced() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"TEST://static-text"}}"#;
    assert_eq!(
        calls(body),
        Err(BodyRejection::Rpc(RpcRejection::NonCanonicalUri))
    );
}

#[test]
fn a_body_must_arrive_unencoded() {
    assert_eq!(check_content_encoding(None), Ok(()));
    assert_eq!(check_content_encoding(Some(" Identity ")), Ok(()));
    for enc in ["br", "gzip", "identity, gzip", "deflate", "x"] {
        assert_eq!(
            check_content_encoding(Some(enc)),
            Err(BodyRejection::ContentEncoding),
            "{enc}"
        );
    }
    let wire = Denial::Body(BodyRejection::ContentEncoding).to_wire();
    assert_eq!(wire.status, 415);
}
