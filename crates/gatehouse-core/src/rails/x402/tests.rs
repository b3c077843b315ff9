use serde_json::{json, Value};

use super::facilitator::{read_settle, read_verify, request_body};
use super::payload::{check, decode, payment_id, Payment};
use super::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

const ASSET: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const PAY_TO: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const PAYER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const NONCE: &str = "0x00000000000000000000000000000000000000000000000000000000000000ab";
const NOW: u64 = 1_800_000_000;

fn settings() -> X402Settings {
    X402Settings {
        network: "eip155:31337".into(),
        asset: ASSET.into(),
        pay_to: PAY_TO.into(),
        price_per_call: 1_000,
        asset_name: "Local Dollar".into(),
        asset_version: "2".into(),
        max_timeout_s: 60,
    }
}

/// A payload as the official client builds it for `req`: `accepted` is the requirement, the
/// authorization transfers its amount to its payee, valid from 0 until `maxTimeoutSeconds`.
fn payload(req: &Requirement) -> Value {
    json!({
        "x402Version": 2,
        "resource": { "url": "http://gw/mcp" },
        "accepted": req.to_json(),
        "payload": {
            "signature": format!("0x{}", "11".repeat(65)),
            "authorization": {
                "from": PAYER,
                "to": req.pay_to,
                "value": req.amount.to_string(),
                "validAfter": "0",
                "validBefore": (NOW + 60).to_string(),
                "nonce": NONCE,
            },
        },
    })
}

fn with(mut v: Value, path: &[&str], value: Value) -> Value {
    let (last, parents) = path.split_last().unwrap();
    let mut at = &mut v;
    for p in parents {
        at = &mut at[*p];
    }
    at[*last] = value;
    v
}

#[test]
fn the_amount_is_the_per_call_price_times_the_call_cost() {
    assert_eq!(settings().requirement(1).amount, 1_000);
    assert_eq!(settings().requirement(3).amount, 3_000);
    let big = X402Settings {
        price_per_call: u64::MAX,
        ..settings()
    };
    assert_eq!(
        big.requirement(u32::MAX).amount,
        u128::from(u64::MAX) * u128::from(u32::MAX)
    );
}

#[test]
fn payment_required_is_version_2_with_one_exact_requirement() {
    let offer = X402Offer {
        resource: "http://gw/mcp".into(),
        requirement: settings().requirement(2),
    };
    let v = offer.payment_required(None);
    assert_eq!(v["x402Version"], 2);
    assert_eq!(v["resource"]["url"], "http://gw/mcp");
    assert!(v.get("error").is_none());
    let a = &v["accepts"][0];
    assert_eq!(a["scheme"], "exact");
    assert_eq!(a["network"], "eip155:31337");
    assert_eq!(a["amount"], "2000", "amounts are decimal strings");
    assert_eq!(a["payTo"], PAY_TO);
    assert_eq!(a["asset"], ASSET);
    assert_eq!(a["maxTimeoutSeconds"], 60);
    assert_eq!(a["extra"]["name"], "Local Dollar");
    assert_eq!(a["extra"]["version"], "2");
    assert_eq!(offer.payment_required(Some("why"))["error"], "why");
}

#[test]
fn the_header_is_standard_base64_of_the_json() {
    // Known answer: `echo -n '{"a":"b?"}' | base64` (a `?` makes `/` in standard base64).
    assert_eq!(encode(&json!({ "a": "b?" })), "eyJhIjoiYj8ifQ==");
    let offer = X402Offer {
        resource: "http://gw/mcp".into(),
        requirement: settings().requirement(1),
    };
    let decoded = B64.decode(offer.header(None)).unwrap();
    let back: Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(back, offer.payment_required(None));
}

#[test]
fn the_payment_id_is_a_known_hash_whatever_the_capitalisation() {
    // Known answer: printf 'x402|eip155:1|0xaa|0xbb|0xcc' | sha256sum
    assert_eq!(
        payment_id("eip155:1", "0xAA", "0xBb", "0xCC"),
        "44f2d153dd29ff6ee7d2a0d8c99ea98726a9b595de2438f6c6668f8c73d8b510"
    );
}

#[test]
fn a_payload_as_the_client_builds_it_is_accepted() {
    let req = settings().requirement(1);
    let header = encode(&payload(&req));
    let p = check(decode(&header).unwrap(), &req, NOW).unwrap();
    assert_eq!(p.payer, PAYER);
    assert_eq!(p.nonce, NONCE);
    assert_eq!(p.valid_before_s, NOW + 60);
    assert_eq!(p.id, payment_id(&req.network, ASSET, PAYER, NONCE));
}

#[test]
fn addresses_match_in_any_capitalisation() {
    let req = settings().requirement(1);
    let lower = with(
        payload(&req),
        &["accepted", "payTo"],
        json!(PAY_TO.to_ascii_lowercase()),
    );
    assert!(check(lower, &req, NOW).is_ok());
}

#[test]
fn each_term_that_differs_from_the_requirement_has_its_reason() {
    let req = settings().requirement(2);
    let other = "0x1111111111111111111111111111111111111111";
    let cases: Vec<(&[&str], Value, Rejection)> = vec![
        (&["x402Version"], json!(1), Rejection::Version),
        (&["accepted", "scheme"], json!("upto"), Rejection::Scheme),
        (
            &["accepted", "network"],
            json!("eip155:8453"),
            Rejection::Network,
        ),
        (&["accepted", "asset"], json!(other), Rejection::Asset),
        (&["accepted", "payTo"], json!(other), Rejection::PayTo),
        (&["accepted", "amount"], json!("1000"), Rejection::Amount),
        (&["accepted", "amount"], json!("02000"), Rejection::Amount),
        (
            &["payload", "authorization", "to"],
            json!(other),
            Rejection::PayTo,
        ),
        (
            &["payload", "authorization", "value"],
            json!("1999"),
            Rejection::Amount,
        ),
        (
            &["payload", "authorization", "value"],
            json!("2001"),
            Rejection::Amount,
        ),
        (
            &["payload", "authorization", "value"],
            json!(2000),
            Rejection::Amount,
        ),
        (
            &["payload", "authorization", "validAfter"],
            json!((NOW + 1).to_string()),
            Rejection::NotYetValid,
        ),
        (
            &["payload", "authorization", "validBefore"],
            json!((NOW + 5).to_string()),
            Rejection::Expired,
        ),
        (
            &["payload", "authorization", "validBefore"],
            json!((NOW + 60 + 601).to_string()),
            Rejection::ValidTooLong,
        ),
    ];
    for (path, value, expected) in cases {
        let got = check(with(payload(&req), path, value.clone()), &req, NOW);
        assert_eq!(got, Err(expected), "{path:?} = {value}");
    }
}

#[test]
fn what_is_not_an_eip3009_payload_is_malformed() {
    let req = settings().requirement(1);
    for (path, value) in [
        (&["accepted"][..], json!("exact")),
        (&["payload", "authorization"], Value::Null),
        (&["payload", "signature"], json!("not hex")),
        (&["payload", "authorization", "from"], json!("0x12")),
        (&["payload", "authorization", "nonce"], json!("0xab")),
        (&["payload", "authorization", "validBefore"], json!("1e9")),
    ] {
        let got = check(with(payload(&req), path, value.clone()), &req, NOW);
        assert!(
            matches!(got, Err(Rejection::Malformed(_))),
            "{path:?} = {value}: {got:?}"
        );
    }
    for header in [
        "",
        "%%%",
        "bnVsbA==",
        &"A".repeat(payload::MAX_SIGNATURE_HEADER + 4),
    ] {
        assert!(matches!(decode(header), Err(Rejection::Malformed(_))));
    }
}

#[test]
fn amounts_are_canonical_decimals() {
    assert_eq!(parse_amount("0"), Some(0));
    assert_eq!(parse_amount("1000"), Some(1_000));
    for bad in ["", "01", "+1", "-1", "1.0", "1e3", " 1", &"9".repeat(40)] {
        assert_eq!(parse_amount(bad), None, "{bad:?}");
    }
}

#[test]
fn amounts_are_written_as_the_standard_library_writes_them() {
    for n in [
        0,
        9,
        10,
        1_000,
        u128::from(u32::MAX),
        u128::from(u32::MAX) + 1,
        u128::from(u64::MAX),
        u128::from(u64::MAX) + 1,
        10u128.pow(38),
        u128::MAX,
    ] {
        assert_eq!(decimal(n), n.to_string());
        assert_eq!(parse_amount(&decimal(n)), Some(n));
    }
}

#[test]
fn networks_are_caip2_evm_chains() {
    assert!(is_evm_network("eip155:8453"));
    assert!(is_evm_network("eip155:31337"));
    for bad in [
        "eip155:",
        "eip155:0x1",
        "eip155:01",
        "solana:abc",
        "base",
        "eip155:1 ",
    ] {
        assert!(!is_evm_network(bad), "{bad:?}");
    }
}

fn checked() -> (Payment, Requirement) {
    let req = settings().requirement(1);
    (check(payload(&req), &req, NOW).unwrap(), req)
}

#[test]
fn the_facilitator_gets_the_client_payload_and_the_gateway_requirement() {
    let (p, req) = checked();
    let body: Value = serde_json::from_str(&request_body(&p, &req)).unwrap();
    assert_eq!(body["x402Version"], 2);
    assert_eq!(body["paymentPayload"], p.payload);
    assert_eq!(body["paymentRequirements"], req.to_json());
}

#[test]
fn verify_answers_are_valid_refused_or_a_failure() {
    assert_eq!(
        read_verify(200, br#"{"isValid":true,"payer":"0x"}"#),
        Some(Ok(()))
    );
    assert_eq!(
        read_verify(
            200,
            br#"{"isValid":false,"invalidReason":"insufficient_funds"}"#
        ),
        Some(Err(Rejection::Refused("insufficient_funds".into())))
    );
    assert_eq!(
        read_verify(400, br#"{"isValid":false,"invalidReason":"<script>"}"#),
        Some(Err(Rejection::Refused(
            "unexpected_facilitator_reason".into()
        )))
    );
    for (status, body) in [
        (500, &br#"{"isValid":false}"#[..]),
        (200, b"not json"),
        (200, b"[]"),
        (200, br#"{"valid":true}"#),
        (400, br#"{"isValid":true}"#),
        (302, b""),
    ] {
        assert_eq!(read_verify(status, body), None, "{status}");
    }
    let huge = format!(r#"{{"isValid":true,"pad":"{}"}}"#, "x".repeat(20_000));
    assert_eq!(read_verify(200, huge.as_bytes()), None);
}

#[test]
fn settle_answers_need_a_transaction_on_the_offered_network() {
    let (p, req) = checked();
    let tx = format!("0x{}", "ab".repeat(32));
    let ok = json!({ "success": true, "transaction": tx, "network": req.network, "payer": PAYER });
    let settled = read_settle(200, ok.to_string().as_bytes(), &req.network, &p)
        .unwrap()
        .unwrap();
    assert_eq!(settled.transaction, tx);
    let back: Value = serde_json::from_slice(&B64.decode(settled.header()).unwrap()).unwrap();
    assert_eq!(
        back,
        json!({ "success": true, "transaction": tx, "network": "eip155:31337", "payer": PAYER })
    );
    let refused = json!({ "success": false, "errorReason": "invalid_transaction_state", "transaction": "", "network": req.network });
    assert_eq!(
        read_settle(200, refused.to_string().as_bytes(), &req.network, &p),
        Some(Err(Rejection::SettleFailed(
            "invalid_transaction_state".into()
        )))
    );
    for bad in [
        json!({ "success": true, "transaction": "", "network": req.network }),
        json!({ "success": true, "transaction": tx, "network": "eip155:1" }),
        json!({ "ok": true }),
    ] {
        assert_eq!(
            read_settle(200, bad.to_string().as_bytes(), &req.network, &p),
            None
        );
    }
    assert_eq!(
        read_settle(503, ok.to_string().as_bytes(), &req.network, &p),
        None
    );
}

#[test]
fn a_refusal_is_402_with_the_reason_offered_again_and_400_when_malformed() {
    let offer = X402Offer {
        resource: "http://gw/mcp".into(),
        requirement: settings().requirement(1),
    };
    let refusal = Refusal {
        rejection: Rejection::Replayed,
        offer: Some(offer.clone()),
        settlement: None,
        in_band: None,
    };
    let (status, body, headers) = refusal.to_wire();
    assert_eq!(status, 402);
    assert_eq!(body["reason"], "payment_already_used");
    let (name, value) = &headers[0];
    assert_eq!(*name, PAYMENT_REQUIRED_HEADER);
    let again: Value = serde_json::from_slice(&B64.decode(value).unwrap()).unwrap();
    assert_eq!(again["error"], "payment_already_used");
    assert_eq!(again["accepts"], offer.payment_required(None)["accepts"]);
    let malformed = Refusal {
        rejection: Rejection::Malformed("x"),
        offer: None,
        settlement: None,
        in_band: None,
    };
    assert_eq!(malformed.to_wire().0, 400);
}
