use super::*;
use crate::mcp::revision::Revision;
use crate::metering::quota::{decide, QuotaState, Window};
use crate::rails::challenge::{L402Offer, PowChallenge};
use crate::rails::l402::credential::L402Rejection;

fn header<'a>(wire: &'a Wire, name: &str) -> Vec<&'a str> {
    wire.headers
        .iter()
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn exhausted() -> Denial {
    let policy = Policy::new(vec![Window::new("minute", 1, 60).unwrap()]).unwrap();
    let (state, _) = decide(&policy, &QuotaState::default(), 1, 0);
    let (_, decision) = decide(&policy, &state, 1, 44_000);
    let pow = PowChallenge::new(&[7u8; 32], 14, 44_000, 60);
    Denial::QuotaExhausted {
        policy,
        decision,
        offers: vec![Offer::Pow(pow)],
        verify_url: "https://gw.example/api/verify-challenge".into(),
        answer: Answer::PaymentRequired,
    }
}

#[test]
fn quota_exhaustion_is_a_402_with_a_pow_challenge_and_rate_limit_headers() {
    let wire = exhausted().to_wire();
    assert_eq!(wire.status, 402);
    assert_eq!(header(&wire, "retry-after"), ["17"]);
    assert_eq!(header(&wire, "ratelimit"), ["\"minute\";r=0;t=17"]);
    assert_eq!(header(&wire, "ratelimit-policy"), ["\"minute\";q=1;w=60"]);
    assert_eq!(header(&wire, "cache-control"), ["no-store"]);
    assert_eq!(header(&wire, "gatehouse-challenge"), ["1"]);
    let id = "07".repeat(16);
    assert_eq!(
        header(&wire, "www-authenticate"),
        [format!("PoW challenge_id=\"{id}\", salt=\"{id}\", difficulty=14, algorithm=\"sha256\", expires=\"104\"").as_str()]
    );
    assert_eq!(wire.body["error"], "quota_exhausted");
    assert_eq!(wire.body["type"], "pow");
    assert_eq!(wire.body["retry_after"], 17);
    let offer = &wire.body["challenges"][0];
    assert_eq!(offer["challenge_id"], id);
    assert_eq!(offer["estimated_hashes"], 16_384);
    assert_eq!(
        offer["verify_url"],
        "https://gw.example/api/verify-challenge"
    );
}

#[test]
fn each_redemption_failure_has_its_status_and_code() {
    for (e, status, code) in [
        (RedeemError::NotFound, 404, "challenge_not_found"),
        (RedeemError::InvalidSolution, 400, "invalid_solution"),
        (RedeemError::Expired, 410, "challenge_expired"),
        (
            RedeemError::AlreadyRedeemed,
            409,
            "challenge_already_redeemed",
        ),
        (RedeemError::InvalidRequest("x"), 400, "invalid_request"),
    ] {
        let wire = Denial::Redeem(e).to_wire();
        assert_eq!(
            (wire.status, wire.body["error"].as_str().unwrap()),
            (status, code)
        );
    }
}

#[test]
fn dependency_failures_are_503_with_retry_after_never_402_or_429() {
    for d in [
        Dependency::QuotaStore,
        Dependency::ChallengeStore,
        Dependency::RevocationStore,
        Dependency::InvoiceBackend,
        Dependency::AuthorizationServer,
        Dependency::Facilitator,
        Dependency::Instance,
    ] {
        let wire = Denial::DependencyUnavailable(d).to_wire();
        assert_eq!(wire.status, 503);
        assert_eq!(header(&wire, "retry-after"), ["2"]);
        assert_eq!(wire.body["error"], "temporarily_unavailable");
    }
}

#[test]
fn every_token_rejection_looks_the_same_on_the_wire() {
    let a = Denial::InvalidToken(TokenRejection::Expired).to_wire();
    let b = Denial::InvalidToken(TokenRejection::BadSignature).to_wire();
    assert_eq!(a, b);
    assert_eq!(a.status, 401);
    assert_eq!(a.body["error"], "invalid_or_expired_token");
    assert_eq!(
        Denial::InvalidToken(TokenRejection::Expired).log_detail(),
        "invalid_token:expired"
    );
}

#[test]
fn origin_and_config_failures_map_to_their_statuses() {
    assert_eq!(Denial::OriginUnreachable.to_wire().status, 502);
    assert_eq!(Denial::OriginTimeout.to_wire().status, 504);
    let mis = Denial::Misconfigured.to_wire();
    assert_eq!(
        (mis.status, mis.body["error"].as_str().unwrap()),
        (503, "gateway_misconfigured")
    );
    assert_eq!(Denial::NotFound.to_wire().status, 404);
    assert_eq!(Denial::PayloadTooLarge { limit: 10 }.to_wire().status, 413);
    assert_eq!(
        Denial::MethodNotAllowed { allow: "POST" }.to_wire().status,
        405
    );
    assert_eq!(Denial::OriginTimeout.log_detail(), "OriginTimeout");
}

#[test]
fn every_body_is_json_with_an_error_code() {
    for d in [
        Denial::NotFound,
        Denial::AdminUnauthorized,
        Denial::AdminDisabled,
        Denial::InvalidRequest("bad"),
        exhausted(),
    ] {
        let wire = d.to_wire();
        assert!(wire.body["error"].is_string());
        assert_eq!(header(&wire, "content-type"), ["application/json"]);
    }
}

#[test]
fn l402_is_offered_first_with_the_form_clients_parse() {
    let policy = Policy::new(vec![Window::new("minute", 1, 60).unwrap()]).unwrap();
    let (state, _) = decide(&policy, &QuotaState::default(), 1, 0);
    let (_, decision) = decide(&policy, &state, 1, 1_000);
    let l402 = L402Offer {
        challenge_id: "ab".repeat(16),
        macaroon: "AgEAAkIAAA==".into(),
        invoice: "lnbc30n1xyz".into(),
        payment_hash: "cd".repeat(32),
        amount_sats: 3,
        expires_at_ms: 301_000,
    };
    let pow = PowChallenge::new(&[1u8; 32], 14, 1_000, 60);
    let wire = Denial::QuotaExhausted {
        policy,
        decision,
        offers: vec![Offer::L402(l402), Offer::Pow(pow)],
        verify_url: "https://gw.example/api/verify-challenge".into(),
        answer: Answer::PaymentRequired,
    }
    .to_wire();
    let lines = header(&wire, "www-authenticate");
    assert_eq!(
        lines[0],
        "L402 macaroon=\"AgEAAkIAAA==\", invoice=\"lnbc30n1xyz\""
    );
    assert!(lines[1].starts_with("PoW challenge_id="));
    assert_eq!(wire.body["type"], "l402");
    assert_eq!(wire.body["challenges"][0]["amount_sats"], 3);
    assert_eq!(wire.body["challenges"][0]["expires_at"], 301);
    assert_eq!(wire.body["challenges"][1]["type"], "pow");
}

#[test]
fn a_refused_l402_credential_says_why() {
    let wire = Denial::InvalidL402(L402Rejection::WrongPreimage).to_wire();
    assert_eq!(wire.status, 401);
    assert_eq!(wire.body["error"], "invalid_l402_credential");
    assert_eq!(wire.body["reason"], "wrong_preimage");
}

#[test]
fn legacy_clients_get_429_with_retry_after_and_no_challenge() {
    let Denial::QuotaExhausted {
        policy,
        decision,
        offers,
        verify_url,
        ..
    } = exhausted()
    else {
        unreachable!()
    };
    let wire = Denial::QuotaExhausted {
        policy,
        decision,
        offers,
        verify_url,
        answer: Answer::TooManyRequests,
    }
    .to_wire();
    assert_eq!(wire.status, 429);
    assert_eq!(header(&wire, "retry-after"), ["17"]);
    assert_eq!(header(&wire, "ratelimit"), ["\"minute\";r=0;t=17"]);
    assert!(header(&wire, "www-authenticate").is_empty());
    assert!(header(&wire, "gatehouse-challenge").is_empty());
    assert_eq!(wire.body["error"], "rate_limited");
}

#[test]
fn in_band_challenges_are_json_rpc_errors_per_request() {
    let Denial::QuotaExhausted {
        policy,
        decision,
        offers,
        verify_url,
        ..
    } = exhausted()
    else {
        unreachable!()
    };
    let single = Denial::QuotaExhausted {
        policy: policy.clone(),
        decision: decision.clone(),
        offers: offers.clone(),
        verify_url: verify_url.clone(),
        answer: Answer::InBand {
            calls: vec![InBandCall {
                id: serde_json::json!(7),
                tool_call: false,
            }],
            batch: false,
            revision: Revision::V2025_06_18,
        },
    }
    .to_wire();
    assert_eq!(single.status, 200);
    assert_eq!(header(&single, "gatehouse-challenge"), ["1"]);
    assert_eq!(single.body["id"], 7);
    assert_eq!(single.body["error"]["code"], 402);
    assert_eq!(single.body["error"]["data"]["httpStatus"], 402);
    assert_eq!(single.body["error"]["data"]["challenges"][0]["type"], "pow");
    let batch = Denial::QuotaExhausted {
        policy,
        decision,
        offers,
        verify_url,
        answer: Answer::InBand {
            calls: vec![
                InBandCall {
                    id: serde_json::json!(1),
                    tool_call: true,
                },
                InBandCall {
                    id: serde_json::json!("b"),
                    tool_call: false,
                },
            ],
            batch: true,
            revision: Revision::V2025_11_25,
        },
    }
    .to_wire();
    assert_eq!(batch.body.as_array().unwrap().len(), 2);
    assert_eq!(batch.body[1]["id"], "b");
    assert_eq!(
        batch.body[0]["result"]["isError"], true,
        "a tool call gets a tool result"
    );
    assert_eq!(batch.body[1]["error"]["code"], 402);
}

#[test]
fn header_mismatch_and_unknown_sessions_are_json_rpc_errors() {
    let w = Denial::McpHeaderMismatch {
        id: Some(serde_json::json!(3)),
    }
    .to_wire();
    assert_eq!(
        (w.status, w.body["error"]["code"].as_i64()),
        (400, Some(-32020))
    );
    assert_eq!(w.body["id"], 3);
    let s = Denial::SessionNotFound.to_wire();
    assert_eq!(s.status, 404);
}

#[test]
fn unknown_api_keys_and_oversized_batches_have_their_own_answers() {
    use crate::credentials::api_key::KeyRejection;
    let key = Denial::InvalidApiKey(KeyRejection::BadSignature);
    let wire = key.to_wire();
    assert_eq!(
        (wire.status, wire.body["error"].as_str()),
        (401, Some("invalid_api_key"))
    );
    assert_eq!(key.log_detail(), "invalid_api_key:bad_signature");
    let wire = Denial::TooManyCalls { limit: 64 }.to_wire();
    assert_eq!(wire.status, 413);
    assert_eq!(wire.body["error"]["code"], -32600);
    assert!(wire.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("64"));
}
