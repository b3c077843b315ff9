use super::*;
use crate::config::Config;
use crate::oauth::challenge::{insufficient_scope, metadata, unauthorized};
use serde_json::json;

pub fn settings() -> OAuthSettings {
    let vars = [
        ("ORIGIN_URL", "https://mcp.example.com"),
        ("TOKEN_SIGNING_KEYS", "k1:0123456789abcdef0123456789abcdef"),
        ("OAUTH_MODE", "required"),
        ("OAUTH_ISSUER", "https://auth.example.com"),
        ("OAUTH_RESOURCE", "https://gw.example.com/mcp"),
        ("OAUTH_REQUIRED_SCOPES", "mcp:tools"),
        ("OAUTH_TOOL_SCOPES", "delete_file=mcp:admin"),
        ("OAUTH_CLIENT_TIERS", "big-client=production"),
    ];
    Config::from_vars(&|n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
    .oauth
    .unwrap()
}

fn claims(extra: Value) -> Value {
    let mut c = json!({
        "iss": "https://auth.example.com",
        "aud": "https://gw.example.com/mcp",
        "sub": "user-1",
        "client_id": "agent",
        "exp": 2_000,
        "iat": 1_000,
        "scope": "mcp:tools openid",
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn a_good_token_names_its_subject_scopes_and_default_tier() {
    let id = check_claims(&settings(), &claims(json!({})), 1_500).unwrap();
    assert_eq!(id.subject, "user-1");
    assert_eq!(id.rate_key(), "sub:user-1");
    assert_eq!(id.scopes, ["mcp:tools", "openid"]);
    assert_eq!(id.tier, "basic");
}

#[test]
fn the_audience_must_be_this_resource_exactly() {
    let s = settings();
    assert_eq!(
        check_claims(
            &s,
            &claims(json!({"aud": "https://other.example/mcp"})),
            1_500
        ),
        Err(Rejection::WrongAudience)
    );
    assert_eq!(
        check_claims(
            &s,
            &claims(json!({"aud": "https://gw.example.com/mcp/"})),
            1_500
        ),
        Err(Rejection::WrongAudience)
    );
    assert!(check_claims(
        &s,
        &claims(json!({"aud": ["x", "https://gw.example.com/mcp"]})),
        1_500
    )
    .is_ok());
    assert_eq!(
        check_claims(&s, &claims(json!({"aud": null})), 1_500),
        Err(Rejection::WrongAudience)
    );
}

#[test]
fn the_issuer_must_match() {
    assert_eq!(
        check_claims(
            &settings(),
            &claims(json!({"iss": "https://evil.example"})),
            1_500
        ),
        Err(Rejection::WrongIssuer)
    );
}

#[test]
fn exp_and_nbf_hold_with_a_small_leeway() {
    let s = settings();
    assert!(check_claims(&s, &claims(json!({})), 2_029).is_ok());
    assert_eq!(
        check_claims(&s, &claims(json!({})), 2_030),
        Err(Rejection::Expired)
    );
    assert_eq!(
        check_claims(&s, &claims(json!({"nbf": 1_600})), 1_500),
        Err(Rejection::NotYetValid)
    );
    assert!(check_claims(&s, &claims(json!({"nbf": 1_520})), 1_500).is_ok());
    assert_eq!(
        check_claims(&s, &claims(json!({"exp": null})), 1_500),
        Err(Rejection::Malformed)
    );
}

#[test]
fn tier_comes_from_the_claim_then_the_client_table() {
    let s = settings();
    assert_eq!(
        check_claims(&s, &claims(json!({"tier": "production"})), 1_500)
            .unwrap()
            .tier,
        "production"
    );
    assert_eq!(
        check_claims(&s, &claims(json!({"tier": "platinum"})), 1_500)
            .unwrap()
            .tier,
        "basic"
    );
    assert_eq!(
        check_claims(&s, &claims(json!({"client_id": "big-client"})), 1_500)
            .unwrap()
            .tier,
        "production"
    );
    assert_eq!(s.tier("production").policy.windows()[0].quota, 10_000);
    assert_eq!(s.tier("basic").policy.windows()[0].quota, 1_000);
}

#[test]
fn scp_lists_count_as_scopes() {
    let id = check_claims(
        &settings(),
        &claims(json!({"scope": null, "scp": ["mcp:tools", "mcp:admin"]})),
        1_500,
    )
    .unwrap();
    assert_eq!(id.scopes, ["mcp:tools", "mcp:admin"]);
}

#[test]
fn a_tool_needs_its_own_scope_on_top_of_the_required_ones() {
    let s = settings();
    let id = check_claims(&s, &claims(json!({})), 1_500).unwrap();
    assert!(id.missing(&s.scopes_for(Some("echo"))).is_empty());
    assert_eq!(
        id.missing(&s.scopes_for(Some("delete_file"))),
        [&"mcp:admin".to_string()]
    );
}

#[test]
fn parse_splits_a_jws_and_refuses_other_algorithms() {
    let head = |h: &str| B64URL.encode(h);
    let body = B64URL.encode(r#"{"sub":"x"}"#);
    let token = format!(
        "{}.{body}.{}",
        head(r#"{"alg":"RS256","kid":"k"}"#),
        B64URL.encode([1u8; 256])
    );
    let p = parse(&token).unwrap();
    assert_eq!(
        (p.alg, p.kid.as_str(), p.signature.len()),
        (Alg::Rs256, "k", 256)
    );
    assert_eq!(p.signing_input, &token[..token.rfind('.').unwrap()]);
    for alg in ["none", "HS256", "PS256"] {
        let t = format!(
            "{}.{body}.",
            head(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#))
        );
        assert_eq!(
            parse(&t).unwrap_err(),
            Rejection::UnsupportedAlgorithm,
            "{alg}"
        );
    }
    let es_short = format!(
        "{}.{body}.{}",
        head(r#"{"alg":"ES256","kid":"k"}"#),
        B64URL.encode([1u8; 70])
    );
    assert_eq!(parse(&es_short).unwrap_err(), Rejection::Malformed);
    assert_eq!(
        parse(&format!("{}.{body}.", head(r#"{"alg":"RS256"}"#))).unwrap_err(),
        Rejection::UnknownKey
    );
    for bad in ["", "a.b", "a.b.c.d", "!.!.!"] {
        assert_eq!(parse(bad).unwrap_err(), Rejection::Malformed);
    }
}

#[test]
fn metadata_names_the_resource_and_its_authorization_server() {
    let m = metadata(&settings());
    assert_eq!(m["resource"], "https://gw.example.com/mcp");
    assert_eq!(
        m["authorization_servers"],
        json!(["https://auth.example.com"])
    );
    assert_eq!(m["bearer_methods_supported"], json!(["header"]));
    assert_eq!(m["scopes_supported"], json!(["mcp:tools", "mcp:admin"]));
    assert_eq!(
        settings().metadata_document_url(),
        "https://gw.example.com/.well-known/oauth-protected-resource/mcp"
    );
}

#[test]
fn challenges_have_the_spec_forms() {
    let s = settings();
    assert_eq!(
        unauthorized(&s, &["mcp:tools".into()], None),
        "Bearer resource_metadata=\"https://gw.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\""
    );
    assert_eq!(
        unauthorized(&s, &[], Some("The access token expired")),
        "Bearer error=\"invalid_token\", error_description=\"The access token expired\", resource_metadata=\"https://gw.example.com/.well-known/oauth-protected-resource/mcp\""
    );
    assert_eq!(
        insufficient_scope(&s, &["mcp:tools".into()], &["mcp:tools".into(), "mcp:admin".into()]),
        "Bearer error=\"insufficient_scope\", scope=\"mcp:tools mcp:admin\", resource_metadata=\"https://gw.example.com/.well-known/oauth-protected-resource/mcp\", error_description=\"This call needs scope mcp:admin\""
    );
}
