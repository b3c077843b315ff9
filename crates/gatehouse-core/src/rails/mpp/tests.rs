use proptest::prelude::*;
use serde_json::{json, Value};

use super::binding::{b64url, body_digest, decode_b64, parse_rfc3339, rfc3339};
use super::credential::{accept, from_header, from_meta, Expected};
use super::*;
use crate::credentials::keys::{parse_key_ring, KeyRing};
use crate::rails::x402::{Rejection, Requirement, X402Settings};

const NOW: u64 = 1_796_174_620_319;
const PAYER: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

fn keys() -> KeyRing {
    parse_key_ring("k1:test-signing-key-0123456789abcdef0123456789").unwrap()
}

fn requirement(cost: u32) -> Requirement {
    X402Settings {
        network: "eip155:31337".into(),
        asset: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
        pay_to: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC".into(),
        price_per_call: 1000,
        asset_name: "Local Dollar".into(),
        asset_version: "2".into(),
        max_timeout_s: 60,
    }
    .requirement(cost)
}

fn issue(keys: &KeyRing, req: &Requirement, digest: Option<String>) -> MppChallenge {
    MppChallenge::issue(&Issue {
        keys,
        realm: "gw.example",
        route: "default",
        chain_id: 31337,
        requirement: req,
        expires_ms: NOW + 60_000,
        digest,
    })
}

/// A credential as mppx builds it: the challenge echoed (request re-encoded), a flat payload.
fn credential(c: &MppChallenge, request: Value) -> Value {
    let mut echo = c.to_json();
    echo["request"] = request;
    json!({
        "challenge": echo,
        "payload": {
            "type": "authorization", "from": PAYER, "to": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            "value": "1000", "validAfter": "0", "validBefore": "1796174680",
            "nonce": format!("0x{}", "46".repeat(32)), "signature": format!("0x{}", "ab".repeat(65)),
        },
        "source": format!("did:pkh:eip155:31337:{PAYER}"),
    })
}

fn expected<'a>(
    keys: &'a KeyRing,
    req: &'a Requirement,
    body: &'a [u8],
    now_ms: u64,
) -> Expected<'a> {
    Expected {
        keys,
        realm: "gw.example",
        route: "default",
        chain_id: 31337,
        requirement: req,
        body,
        now_ms,
    }
}

#[test]
fn times_are_rfc3339_with_milliseconds_as_mppx_writes_them() {
    // From a trace of mppx 0.11.0: `expires` and the `validBefore` it signed for it.
    assert_eq!(rfc3339(1_796_174_680_319), "2026-12-02T01:24:40.319Z");
    assert_eq!(
        parse_rfc3339("2026-12-02T01:24:40.319Z"),
        Some(1_796_174_680_319)
    );
    assert_eq!(
        parse_rfc3339("2026-12-02T02:24:40+01:00"),
        Some(1_796_174_680_000)
    );
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        parse_rfc3339("2024-02-29T00:00:00Z"),
        Some(1_709_164_800_000)
    );
    for bad in [
        "2023-02-29T00:00:00Z",
        "2026-12-02 01:24:40Z",
        "2026-12-02T01:24:40",
        "2026-13-01T00:00:00Z",
        "2026-12-02T24:00:00Z",
        "2026-12-02T01:24:40.Z",
        "1969-12-31T23:59:59Z",
        "",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

proptest! {
    #[test]
    fn every_instant_reads_back_as_written(ms in 0u64..=253_402_300_799_999) {
        prop_assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
    }

    #[test]
    fn no_changed_id_is_ours(at in 0usize..43, to in 0u8..64) {
        let (k, req) = (keys(), requirement(1));
        let mut c = issue(&k, &req, None);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = c.id.clone().into_bytes();
        prop_assume!(id[at] != alphabet[usize::from(to)]);
        id[at] = alphabet[usize::from(to)];
        c.id = String::from_utf8(id).unwrap();
        let cred = credential(&c, json!(c.request));
        prop_assert!(matches!(accept(&cred, &expected(&k, &req, b"", NOW)), Err(Rejection::Challenge(_))));
    }
}

#[test]
fn the_request_is_rfc8785_json_of_the_price_token_recipient_and_chain() {
    assert_eq!(
        request_json(&requirement(3), 31337),
        r#"{"amount":"3000","currency":"0x5FbDB2315678afecb367f032d93F642f64180aa3","methodDetails":{"chainId":31337,"credentialTypes":["authorization"]},"recipient":"0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"}"#
    );
    let c = issue(&keys(), &requirement(1), Some(body_digest(b"{}")));
    assert_eq!(decode_b64(&c.request).unwrap(), c.request_json.as_bytes());
    let line = c.header();
    assert!(line.starts_with(&format!("Payment id=\"{}\", realm=\"gw.example\", method=\"evm\", intent=\"charge\", request=\"{}\"", c.id, c.request)));
    assert!(
        line.contains("digest=\"sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:\""),
        "{line}"
    );
    assert!(line.contains("expires=\"2026-12-02T01:24:40.319Z\""));
}

#[test]
fn an_echo_of_the_header_or_of_the_mcp_object_is_accepted_and_becomes_the_x402_payload() {
    let (k, req) = (keys(), requirement(1));
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#;
    let over_http = issue(&k, &req, Some(body_digest(body)));
    let header = format!(
        "Payment {}",
        b64url(
            credential(&over_http, json!(over_http.request))
                .to_string()
                .as_bytes()
        )
    );
    let read = from_header(&format!("Bearer abc, {header}"))
        .unwrap()
        .unwrap();
    let ok = accept(&read, &expected(&k, &req, body, NOW)).unwrap();
    assert_eq!(ok.challenge_id, over_http.id);
    assert_eq!(ok.payload["x402Version"], 2);
    assert_eq!(ok.payload["accepted"], req.to_json());
    assert_eq!(ok.payload["payload"]["authorization"]["from"], PAYER);
    assert_eq!(
        ok.payload["payload"]["authorization"]["validBefore"],
        "1796174680"
    );
    assert_eq!(
        ok.payload["payload"]["signature"],
        format!("0x{}", "ab".repeat(65))
    );
    let inside_mcp = issue(&k, &req, None);
    let object: Value = serde_json::from_str(&inside_mcp.request_json).unwrap();
    let read = from_meta(&credential(&inside_mcp, object)).unwrap();
    assert_eq!(
        accept(&read, &expected(&k, &req, b"other", NOW))
            .unwrap()
            .challenge_id,
        inside_mcp.id
    );
    // Another key of the ring (a rotation) still knows its ids.
    let rotated = parse_key_ring("k2:another-signing-key-0123456789abcdef012345,k1:test-signing-key-0123456789abcdef0123456789").unwrap();
    assert!(accept(&read, &expected(&rotated, &req, b"", NOW)).is_ok());
}

#[test]
fn every_changed_parameter_expiry_route_body_and_price_is_refused() {
    let (k, req) = (keys(), requirement(1));
    let body = b"{\"a\":1}";
    let c = issue(&k, &req, Some(body_digest(body)));
    let base = credential(&c, json!(c.request));
    let judge = |cred: &Value, body: &[u8], req: &Requirement, now| {
        accept(cred, &expected(&k, req, body, now))
    };
    assert!(judge(&base, body, &req, NOW).is_ok());
    for (key, value) in [
        ("realm", json!("evil.example")),
        ("expires", json!("2099-01-01T00:00:00.000Z")),
        ("digest", json!("sha-256=:AAAA:")),
        ("opaque", json!(opaque_for("cheap"))),
    ] {
        let mut cred = base.clone();
        cred["challenge"][key] = value;
        assert!(
            matches!(judge(&cred, body, &req, NOW), Err(Rejection::Challenge(_))),
            "{key}"
        );
    }
    let mut dropped = base.clone();
    dropped["challenge"]
        .as_object_mut()
        .unwrap()
        .remove("digest");
    assert!(matches!(
        judge(&dropped, body, &req, NOW),
        Err(Rejection::Challenge(_))
    ));
    assert_eq!(
        judge(&base, body, &req, NOW + 60_000),
        Err(Rejection::ChallengeExpired)
    );
    assert!(
        matches!(
            judge(&base, b"{\"a\":2}", &req, NOW),
            Err(Rejection::Challenge(_))
        ),
        "another body"
    );
    assert!(
        matches!(
            judge(&base, body, &requirement(2), NOW),
            Err(Rejection::Challenge(_))
        ),
        "a dearer request"
    );
    let mut method = base.clone();
    method["challenge"]["method"] = json!("tempo");
    assert_eq!(
        judge(&method, body, &req, NOW),
        Err(Rejection::MethodUnsupported)
    );
    // Issued by another gateway (another key) with the same parameters.
    let other = parse_key_ring("k9:someone-elses-key-0123456789abcdef0123456789").unwrap();
    let foreign = issue(&other, &req, Some(body_digest(body)));
    assert!(matches!(
        judge(
            &credential(&foreign, json!(foreign.request)),
            body,
            &req,
            NOW
        ),
        Err(Rejection::Challenge(_))
    ));
    // A challenge issued for another route, honestly, by this gateway.
    let cheap = MppChallenge::issue(&Issue {
        route: "cheap",
        ..Issue {
            keys: &k,
            realm: "gw.example",
            route: "default",
            chain_id: 31337,
            requirement: &req,
            expires_ms: NOW + 60_000,
            digest: None,
        }
    });
    assert_eq!(
        judge(&credential(&cheap, json!(cheap.request)), body, &req, NOW),
        Err(Rejection::Challenge(
            "the challenge was issued for another route"
        ))
    );
}

#[test]
fn a_payload_that_is_not_the_payers_authorization_is_malformed() {
    let (k, req) = (keys(), requirement(1));
    let c = issue(&k, &req, None);
    let base = credential(&c, json!(c.request));
    let judge = |cred: &Value| accept(cred, &expected(&k, &req, b"", NOW));
    let mut source = base.clone();
    source["source"] = json!("did:pkh:eip155:1:0x0000000000000000000000000000000000000001");
    let mut kind = base.clone();
    kind["payload"]["type"] = json!("transaction");
    let mut missing = base.clone();
    missing["payload"].as_object_mut().unwrap().remove("nonce");
    for bad in [source, kind, missing, json!({"payload": {}})] {
        assert!(matches!(judge(&bad), Err(Rejection::Malformed(_))), "{bad}");
    }
    assert!(matches!(
        from_header(&format!("Payment {}", "A".repeat(9_000))),
        Some(Err(Rejection::Malformed(_)))
    ));
    assert!(matches!(
        from_header("Payment !!!"),
        Some(Err(Rejection::Malformed(_)))
    ));
    assert!(from_header("Bearer abc").is_none());
    assert!(from_meta(&json!("a string")).is_err());
}

#[test]
fn receipts_and_problems_are_the_drafts() {
    let r = receipt("0xabc", "id1", 1_796_174_680_319);
    assert_eq!(
        r,
        json!({"method": "evm", "reference": "0xabc", "status": "success", "timestamp": "2026-12-02T01:24:40.319Z", "challengeId": "id1"})
    );
    assert_eq!(
        decode_b64(&receipt_header(&r)).unwrap(),
        r.to_string().as_bytes()
    );
    let p = problem::body(&Rejection::Replayed, Some("fresh"));
    assert_eq!(
        p["type"],
        "https://paymentauth.org/problems/verification-failed"
    );
    assert_eq!(
        (p["status"].clone(), p["challengeId"].clone()),
        (json!(402), json!("fresh"))
    );
    assert_eq!(
        problem::body(&Rejection::ChallengeExpired, None)["type"],
        "https://paymentauth.org/problems/payment-expired"
    );
}
