//! The core's names on the wire against `clients/js/wire.json`, the one list the clients read
//! (docs/PROTOCOL.md §7). Both directions are held: every header, code and status the core emits
//! is in the file, and every entry of the file is something the core defines or emits, so the
//! file can neither miss a name nor keep a stale one.
//!
//! Every `Denial` variant is built at least once (`wire/denials.rs`) (`variant` is an exhaustive match, so a new
//! variant does not compile until it is counted, and the count fails until it is built).

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_core::credentials::api_key::{ADMIN_KEYS_PATH, ADMIN_KEYS_REVOKE_PATH};
use gatehouse_core::mcp::revision::Revision;
use gatehouse_core::mcp::{self, IN_BAND_TOKEN_KEY};
use gatehouse_core::rails::challenge::{L402_SCHEME, L402_TYPE, POW_SCHEME, POW_TYPE, VERIFY_PATH};
use gatehouse_core::rails::x402;
use gatehouse_core::wire::denial::{
    Answer, InBandCall, Wire, RPC_HEADER_MISMATCH, RPC_INVALID_REQUEST, RPC_PARSE_ERROR,
    RPC_PAYMENT_REQUIRED, RPC_SESSION_NOT_FOUND,
};
use gatehouse_core::wire::headers::{self, *};
use gatehouse_core::{rails::mpp, rails::pow};
use serde_json::{json, Value};

#[path = "wire/denials.rs"]
mod denials;
use denials::{every_denial, exhausted, variant, VARIANTS};

const WIRE: &str = include_str!("../../../clients/js/wire.json");

/// Standard fields an answer may carry that are no name of the gateway's own.
const GENERIC_HEADERS: &[&str] = &["content-type", "cache-control", "allow", "accept"];

fn wire() -> Value {
    serde_json::from_str(WIRE).expect("wire.json is JSON")
}

/// A flat object of the file as name → value.
fn section(name: &str) -> BTreeMap<String, Value> {
    let file = wire();
    let object = file[name].as_object().unwrap_or_else(|| panic!("{name}"));
    object.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Asserts that a section of the file is exactly `expected`, entry for entry.
fn section_is(name: &str, expected: &[(&str, Value)]) {
    let expected: BTreeMap<String, Value> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(section(name), expected, "wire.json `{name}`");
}

#[test]
fn header_names_and_values_are_the_files() {
    section_is(
        "headers",
        &[
            ("access_token", json!(ACCESS_TOKEN_HEADER)),
            ("accept_402", json!(ACCEPT_402_HEADER)),
            ("time_budget", json!(TIME_BUDGET_HEADER)),
            ("challenge_marker", json!(CHALLENGE_MARKER_HEADER)),
            ("session_id", json!(SESSION_ID_HEADER)),
            ("mcp_method", json!(MCP_METHOD_HEADER)),
            ("mcp_name", json!(MCP_NAME_HEADER)),
            ("ratelimit", json!(RATELIMIT_HEADER)),
            ("ratelimit_policy", json!(RATELIMIT_POLICY_HEADER)),
            ("retry_after", json!(RETRY_AFTER_HEADER)),
            ("www_authenticate", json!(WWW_AUTHENTICATE_HEADER)),
            ("authorization", json!("authorization")),
            ("payment_required", json!(x402::PAYMENT_REQUIRED_HEADER)),
            ("payment_signature", json!(x402::PAYMENT_SIGNATURE_HEADER)),
            ("payment_response", json!(x402::PAYMENT_RESPONSE_HEADER)),
            ("payment_receipt", json!(mpp::RECEIPT_HEADER)),
            ("accept_payment", json!(mpp::ACCEPT_PAYMENT_HEADER)),
        ],
    );
    section_is(
        "header_values",
        &[
            ("accept_402", json!(ACCEPT_402_VALUE)),
            ("challenge_marker", json!(CHALLENGE_MARKER_VALUE)),
        ],
    );
    // The client's credentials for the gateway, and what it says only to the gateway, stop there.
    let names = section("headers");
    for key in [
        "authorization",
        "access_token",
        "accept_402",
        "time_budget",
        "payment_signature",
    ] {
        let name = names[key].as_str().unwrap();
        assert!(!headers::forward_to_origin(name, None), "{name}");
    }
    for key in ["session_id", "mcp_method", "mcp_name"] {
        let name = names[key].as_str().unwrap();
        assert!(headers::forward_to_origin(name, None), "{name}");
    }
}

#[test]
fn paths_meta_key_challenge_names_and_json_rpc_codes_are_the_files() {
    section_is(
        "paths",
        &[
            ("verify_challenge", json!(VERIFY_PATH)),
            ("admin_keys", json!(ADMIN_KEYS_PATH)),
            ("admin_keys_revoke", json!(ADMIN_KEYS_REVOKE_PATH)),
        ],
    );
    section_is(
        "meta",
        &[
            ("access_token", json!(IN_BAND_TOKEN_KEY)),
            ("x402_payment", json!(mcp::X402_PAYMENT_META_KEY)),
            (
                "x402_payment_response",
                json!(mcp::X402_PAYMENT_RESPONSE_META_KEY),
            ),
            ("mpp_credential", json!(mpp::CREDENTIAL_META_KEY)),
            (
                "mpp_payment_required",
                json!(mpp::PAYMENT_REQUIRED_META_KEY),
            ),
            ("mpp_receipt", json!(mpp::RECEIPT_META_KEY)),
        ],
    );
    section_is(
        "challenge_types",
        &[
            ("pow", json!(POW_TYPE)),
            ("l402", json!(L402_TYPE)),
            ("x402", json!(x402::X402_TYPE)),
            ("mpp", json!(mpp::MPP_TYPE)),
        ],
    );
    section_is(
        "schemes",
        &[
            ("pow", json!(POW_SCHEME)),
            ("l402", json!(L402_SCHEME)),
            ("mpp", json!(mpp::SCHEME)),
        ],
    );
    assert_eq!(wire()["pow_algorithm"], json!(pow::ALGORITHM));
    section_is(
        "jsonrpc",
        &[
            ("payment_required", json!(RPC_PAYMENT_REQUIRED)),
            ("header_mismatch", json!(RPC_HEADER_MISMATCH)),
            ("session_not_found", json!(RPC_SESSION_NOT_FOUND)),
            ("parse_error", json!(RPC_PARSE_ERROR)),
            ("invalid_request", json!(RPC_INVALID_REQUEST)),
        ],
    );
}

/// The JSON-RPC error codes in a body: one message or a batch of them.
fn rpc_codes(body: &Value) -> Vec<i64> {
    let messages = match body {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    messages
        .iter()
        .filter(|m| m["jsonrpc"] == "2.0" && m.get("result").is_none())
        .map(|m| m["error"]["code"].as_i64().expect("a JSON-RPC error code"))
        .collect()
}

/// MCP 2026-07-28 (basic, Error Codes): `-32020…-32099` are the specification's, with only these
/// defined; -32042 and -32002 must not be emitted. 2025-11-25 gives -32042 its own meaning.
const DEFINED_IN_RESERVED: [i64; 3] = [-32020, -32021, -32022];

#[test]
fn no_answer_uses_a_code_any_mcp_revision_forbids() {
    for denial in every_denial() {
        let which = denial.log_detail();
        for code in rpc_codes(&denial.to_wire().body) {
            let reserved = (-32099..=-32020).contains(&code);
            assert!(
                !reserved || DEFINED_IN_RESERVED.contains(&code),
                "{which} answers {code}, reserved by MCP 2026-07-28"
            );
            assert!(code != -32042 && code != -32002, "{which} answers {code}");
        }
    }
}

#[test]
fn a_refused_tool_call_is_an_x402_tool_result_and_other_requests_an_error() {
    let w = exhausted(Answer::InBand {
        calls: vec![
            InBandCall {
                id: json!(1),
                tool_call: true,
            },
            InBandCall {
                id: json!(2),
                tool_call: false,
            },
        ],
        batch: true,
        revision: Revision::V2026_07_28,
    })
    .to_wire();
    assert_eq!(w.status, 200);
    let result = &w.body[0]["result"];
    assert_eq!(result["isError"], true);
    assert_eq!(result["resultType"], "complete");
    let required = &result["structuredContent"];
    assert_eq!(required["x402Version"], 2);
    assert_eq!(required["accepts"][0]["scheme"], "exact");
    let kinds: Vec<&str> = required["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"pow") && kinds.contains(&"x402"),
        "{kinds:?}"
    );
    let wrapped: Value =
        serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(wrapped["x402/error"]["code"], 402);
    assert_eq!(wrapped["x402/error"]["data"], *required);
    let told = result["content"][1]["text"].as_str().unwrap();
    assert!(
        told.contains("quota") && told.contains("proof of work") && told.contains("x402"),
        "{told}"
    );
    assert_eq!(w.body[1]["error"]["code"], RPC_PAYMENT_REQUIRED);
    assert!(w.body[1].get("result").is_none());
    // Before 2026-07-28 results carry no resultType.
    let older = exhausted(Answer::InBand {
        calls: vec![InBandCall {
            id: json!(1),
            tool_call: true,
        }],
        batch: false,
        revision: Revision::V2025_06_18,
    })
    .to_wire();
    assert!(older.body["result"].get("resultType").is_none());
}

#[test]
fn every_answer_the_core_gives_carries_only_the_files_codes_statuses_and_headers() {
    let errors = section("errors");
    let rpc: BTreeSet<i64> = section("jsonrpc")
        .values()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let names: BTreeSet<String> = section("headers")
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let (mut seen_codes, mut seen_rpc, mut seen_variants) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for denial in every_denial() {
        seen_variants.insert(variant(&denial));
        let which = denial.log_detail();
        let Wire {
            status,
            headers,
            body,
        } = denial.to_wire();
        if let Some(code) = body["error"].as_str() {
            let expected = errors.get(code).unwrap_or_else(|| {
                panic!("{which} answers `{code}`, which wire.json does not list")
            });
            assert_eq!(json!(status), *expected, "the status of `{code}`");
            seen_codes.insert(code.to_string());
        } else {
            let codes = rpc_codes(&body);
            // A refused tool call told inside MCP is a result, `isError: true`, and no code.
            let tool_results = [body.clone()]
                .into_iter()
                .flat_map(|b| match b {
                    Value::Array(items) => items,
                    one => vec![one],
                })
                .filter(|m| m["result"]["isError"] == true)
                .count();
            assert!(
                !codes.is_empty() || tool_results > 0,
                "{which}: neither `error` nor JSON-RPC"
            );
            for code in codes {
                assert!(rpc.contains(&code), "{which}: JSON-RPC {code}");
                seen_rpc.insert(code);
            }
        }
        for (name, _) in &headers {
            assert!(
                names.contains(*name) || GENERIC_HEADERS.contains(name),
                "{which} sends `{name}`, which wire.json does not list"
            );
        }
    }
    assert_eq!(
        seen_variants,
        (0..VARIANTS).collect(),
        "a variant not built"
    );
    let listed: BTreeSet<String> = errors.keys().cloned().collect();
    assert_eq!(
        seen_codes, listed,
        "wire.json lists a code the core never emits"
    );
    assert_eq!(
        seen_rpc, rpc,
        "wire.json lists a JSON-RPC code never emitted"
    );
}

fn header<'a>(wire: &'a Wire, name: &str) -> Vec<&'a str> {
    wire.headers
        .iter()
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn a_402_names_its_challenges_with_the_files_types_schemes_and_algorithm() {
    let file = wire();
    let w = exhausted(Answer::PaymentRequired).to_wire();
    let marker = file["headers"]["challenge_marker"].as_str().unwrap();
    assert_eq!(
        header(&w, marker),
        [file["header_values"]["challenge_marker"].as_str().unwrap()]
    );
    let lines = header(&w, file["headers"]["www_authenticate"].as_str().unwrap());
    let schemes: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        schemes,
        [
            &file["schemes"]["l402"],
            &file["schemes"]["pow"],
            &file["schemes"]["mpp"]
        ]
    );
    let types: Vec<&Value> = w.body["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["type"])
        .collect();
    assert_eq!(
        types,
        [
            &file["challenge_types"]["l402"],
            &file["challenge_types"]["pow"],
            &file["challenge_types"]["x402"],
            &file["challenge_types"]["mpp"]
        ]
    );
    // x402 has no `WWW-Authenticate` line: its offer is the file's `PAYMENT-REQUIRED` header.
    let required = header(&w, file["headers"]["payment_required"].as_str().unwrap());
    assert_eq!(required.len(), 1);
    let pow = &w.body["challenges"][1];
    assert_eq!(pow["algorithm"], file["pow_algorithm"]);
    assert!(lines[1].contains(&format!("algorithm=\"{}\"", pow::ALGORITHM)));
    assert!(pow["verify_url"]
        .as_str()
        .unwrap()
        .ends_with(file["paths"]["verify_challenge"].as_str().unwrap()));

    // The same exhaustion told in-band is the file's JSON-RPC code, still marked; as a 429, it
    // carries no challenge, so no marker either.
    let in_band = exhausted(Answer::InBand {
        calls: vec![InBandCall {
            id: json!(7),
            tool_call: false,
        }],
        batch: false,
        revision: Revision::V2025_11_25,
    })
    .to_wire();
    assert_eq!(
        in_band.body["error"]["code"],
        file["jsonrpc"]["payment_required"]
    );
    assert_eq!(header(&in_band, marker).len(), 1);
    let too_many = exhausted(Answer::TooManyRequests).to_wire();
    assert!(header(&too_many, marker).is_empty());
    assert_eq!(
        header(&too_many, file["headers"]["retry_after"].as_str().unwrap()).len(),
        1
    );
}
