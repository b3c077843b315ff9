use serde_json::json;

use super::*;
use crate::mcp::calls;

fn key_of(body: &str, revision: Revision) -> Option<String> {
    let c = calls(body.as_bytes()).unwrap();
    request_key(
        "main",
        body.as_bytes(),
        &c,
        body.trim_start().starts_with('['),
        revision,
    )
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":7}}}"#;

#[test]
fn one_key_per_route_method_params_and_revision_whatever_the_meta_and_id() {
    let a = key_of(LIST, Revision::V2026_07_28).unwrap();
    let other_meta = r#"{"id":99,"jsonrpc":"2.0","params":{"_meta":{"progressToken":"x"}},"method":"tools/list"}"#;
    assert_eq!(
        key_of(other_meta, Revision::V2026_07_28).unwrap(),
        a,
        "id and _meta do not select the result"
    );
    let bare = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert_eq!(key_of(bare, Revision::V2026_07_28).unwrap(), a);
    let page = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"p2"}}"#;
    assert_ne!(
        key_of(page, Revision::V2026_07_28).unwrap(),
        a,
        "a cursor is another page"
    );
    let prompts = r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#;
    assert_ne!(key_of(prompts, Revision::V2026_07_28).unwrap(), a);
    let c = calls(LIST.as_bytes()).unwrap();
    assert_ne!(
        request_key("other", LIST.as_bytes(), &c, false, Revision::V2026_07_28).unwrap(),
        a,
        "another route"
    );
}

#[test]
fn no_key_for_what_may_not_be_served_from_a_cache() {
    for revision in [
        Revision::V2025_03_26,
        Revision::V2025_06_18,
        Revision::V2025_11_25,
    ] {
        assert_eq!(key_of(LIST, revision), None, "no hints before 2026-07-28");
    }
    for body in [
        r#"{"jsonrpc":"2.0","method":"tools/list"}"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"requestState":"s"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"inputResponses":{}}}"#,
    ] {
        assert_eq!(key_of(body, Revision::V2026_07_28), None, "{body}");
    }
}

#[test]
fn only_a_public_complete_result_with_a_ttl_for_this_id_is_kept_as_the_origin_wrote_it() {
    let id = json!(1);
    let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","n":1E5}],"resultType":"complete","cacheScope":"public","ttlMs":2000}}"#;
    let kept = keepable(body, &id).unwrap();
    assert_eq!(kept.ttl_ms, 2000);
    assert_eq!(
        String::from_utf8(kept.result.clone()).unwrap(),
        r#"{"tools":[{"name":"echo","n":1E5}],"resultType":"complete","cacheScope":"public","ttlMs":2000}"#,
        "the origin's bytes, 1E5 and all"
    );
    let again = answer(&kept.result, &json!("req-7"));
    let v: Value = serde_json::from_slice(&again).unwrap();
    assert_eq!(v["id"], "req-7");
    assert_eq!(v["result"]["tools"][0]["name"], "echo");
    assert_eq!(keepable(&br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","cacheScope":"public","ttlMs":999999999}}"#[..], &id).unwrap().ttl_ms, MAX_TTL_MS);
    for refused in [
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","cacheScope":"private","ttlMs":2000}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","ttlMs":2000}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","cacheScope":"public","ttlMs":0}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","cacheScope":"public","ttlMs":-5}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","cacheScope":"public","ttlMs":1.5}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"input_required","cacheScope":"public","ttlMs":2000}}"#,
        r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[],"resultType":"complete","cacheScope":"public","ttlMs":2000}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}"#,
        r#"[{"jsonrpc":"2.0","id":1,"result":{"tools":[],"resultType":"complete","cacheScope":"public","ttlMs":2000}}]"#,
        "not json",
    ] {
        assert_eq!(keepable(refused.as_bytes(), &id), None, "{refused}");
    }
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[],"pad":"{}","resultType":"complete","cacheScope":"public","ttlMs":2000}}}}"#,
        "x".repeat(MAX_CACHED_RESULT)
    );
    assert_eq!(keepable(huge.as_bytes(), &id), None);
}
