//! Hostile inputs to the body reading: resource URIs that the MCP SDK origin
//! (`new URL(uri).toString()`, WHATWG URL) serializes differently from how they were sent, which
//! an earlier version accepted, so that a cost or limit pattern written for the origin's form was
//! dodged; and in-band token cuts on awkward, well-formed bodies. Each case in `uri_dodges` was
//! checked against Node's `new URL(..).toString()` (shown after `->`); the gateway must refuse it.

use gatehouse_core::mcp::{calls, take_in_band_token, BodyRejection, RpcRejection};
use gatehouse_core::policy::Pattern;
use serde_json::Value;

fn read_body(uri: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{{"uri":{}}}}}"#,
        serde_json::to_string(uri).unwrap()
    )
}

/// (as sent, what the SDK origin reads, a pattern an operator writes for the origin's form)
const DODGES: &[(&str, &str, &str)] = &[
    // Empty userinfo and empty port are dropped by the serializer, for every scheme.
    ("test://@x/secret", "test://x/secret", "test://x/secret*"),
    ("test://:@x/secret", "test://x/secret", "test://x/secret*"),
    ("test://x:/secret", "test://x/secret", "test://x/secret*"),
    // file: localhost is the empty host; the slashes are supplied (glob.rs's own example).
    (
        "file://localhost/reports/q3",
        "file:///reports/q3",
        "file:///reports/*",
    ),
    (
        "file:/reports/q3",
        "file:///reports/q3",
        "file:///reports/*",
    ),
    ("file:reports/q3", "file:///reports/q3", "file:///reports/*"),
    // Special schemes without `//`: the authority is not checked for case at all.
    (
        "http:EXAMPLE.com/secret",
        "http://example.com/secret",
        "http://example.com/*",
    ),
    (
        "http:/example.com/secret",
        "http://example.com/secret",
        "http://example.com/*",
    ),
    // Default and zero-padded ports, IPv4 shorthand, IPv6 compression.
    (
        "http://example.com:80/secret",
        "http://example.com/secret",
        "http://example.com/*",
    ),
    (
        "http://example.com:080/secret",
        "http://example.com/secret",
        "http://example.com/*",
    ),
    (
        "http://127.1/secret",
        "http://127.0.0.1/secret",
        "http://127.0.0.1/*",
    ),
    (
        "http://[0:0::1]/secret",
        "http://[::1]/secret",
        "http://[::1]/*",
    ),
    // IDNA mapping: full-width letters are not ASCII uppercase, so they pass the case check.
    (
        "http://\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}.com/secret",
        "http://example.com/secret",
        "http://example.com/*",
    ),
    // Non-ASCII in a path is percent-encoded by the origin.
    (
        "test://x/s\u{e9}cret",
        "test://x/s%C3%A9cret",
        "test://x/s%C3%A9cret",
    ),
    // A bare special authority gains `/`.
    (
        "http://example.com",
        "http://example.com/",
        "http://example.com/",
    ),
];

#[test]
fn uri_dodges() {
    let mut accepted = Vec::new();
    for (sent, origin_reads, pattern) in DODGES {
        let pattern = Pattern::new(pattern);
        assert!(
            pattern.matches(origin_reads),
            "{pattern:?} covers {origin_reads}"
        );
        assert!(!pattern.matches(sent), "{pattern:?} misses {sent}");
        match calls(read_body(sent).as_bytes()) {
            Err(BodyRejection::Rpc(RpcRejection::NonCanonicalUri)) => {}
            other => accepted.push(format!("{sent} -> {origin_reads}: {other:?}")),
        }
    }
    assert!(
        accepted.is_empty(),
        "non-canonical URIs accepted:\n{}",
        accepted.join("\n")
    );
}

/// The body the origin gets must be the body less the token member, and still parse.
fn check_cut(body: &str, token: &str) {
    let (got, rest) =
        take_in_band_token(body.as_bytes()).unwrap_or_else(|| panic!("token not found in {body}"));
    assert_eq!(got, token);
    let rest = String::from_utf8(rest).unwrap();
    let mut want: Value = serde_json::from_str(body).unwrap();
    let strip = |m: &mut Value| {
        if let Some(meta) = m
            .pointer_mut("/params/_meta")
            .and_then(Value::as_object_mut)
        {
            meta.remove("gatehouse/access_token");
        }
    };
    match &mut want {
        Value::Array(items) => items.iter_mut().for_each(strip),
        m => strip(m),
    }
    let left: Value = serde_json::from_str(&rest)
        .unwrap_or_else(|e| panic!("cut corrupted {body} into {rest}: {e}"));
    assert_eq!(left, want, "cut {body} into {rest}");
    assert!(!rest.contains(token), "token left in {rest}");
}

#[test]
fn in_band_cuts_on_awkward_bodies() {
    let t = "SECRETtok";
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"gatehouse/access_token":"SECRETtok"}}}"#,
        r#" { "params" : { "_meta" : { "a" : "\\\"}" , "gatehouse/access_token" : "SECRETtok" } , "x" : [ "]" , { } ] } , "jsonrpc" : "2.0" , "id" : "\"" , "method" : "ping" } "#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"z":{"_meta":{"gatehouse/access_token":"no"}},"_meta":{"b":[1,{"c":"{"}],"gatehouse\u002faccess_token":"SECRETtok","d":true}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"n":-1.5e-3,"gatehouse/access_token":"SECRETtok"}}}"#,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"_meta\":{\"n\":null\r\n,\t\"gatehouse/access_token\"\n:\r\"SECRETtok\"\n}}}",
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"} , {"jsonrpc":"2.0","id":2,"method":"ping","params":{"_meta":{"gatehouse/access_token":"SECRETtok"}}} ,{"jsonrpc":"2.0","id":3,"method":"ping","params":{"_meta":{"k":"\\","gatehouse/access_token":"SECRETtok2"}}}]"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"gatehouse/access_token":"SECRETtok","\u00e9":"\ud83d\ude00"}}}"#,
    ] {
        check_cut(body, t);
    }
}
