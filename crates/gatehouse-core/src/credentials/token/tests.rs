use super::*;
use crate::credentials::keys::parse_key_ring;
use proptest::prelude::*;

pub(crate) fn settings() -> TokenSettings {
    TokenSettings {
        ttl_s: 300,
        grant: 60,
        binding: Binding::parse("user_agent,client_key").unwrap(),
        keys: parse_key_ring("k1:0123456789abcdef0123456789abcdef").unwrap(),
        issuer: "gatehouse".into(),
    }
}

pub(crate) const FP: Fingerprint = Fingerprint {
    user_agent: "agent/1.0",
    client_key: "ip:203.0.113.9",
    ip: "203.0.113.9",
};

pub(crate) fn mint(s: &TokenSettings, now_s: u64) -> String {
    let bnd = binding_hash(s.binding, FP);
    issue(
        s,
        Issue {
            audience: "https://gw.example",
            subject: FP.client_key,
            binding_hash: bnd,
            jti: "j1".into(),
            via: Via::Pow,
            now_s,
            reduced: None,
            route: Some("main"),
        },
    )
    .0
}

#[test]
fn a_minted_token_checks_out_with_its_claims() {
    let s = settings();
    let token = mint(&s, 1_000);
    let claims = check(
        &s,
        &token,
        "https://gw.example",
        &binding_hash(s.binding, FP),
        1_100,
    )
    .unwrap();
    assert_eq!(claims.sub, "ip:203.0.113.9");
    assert_eq!(claims.exp, 1_300);
    assert_eq!(claims.grant, 60);
    assert_eq!(claims.via, Via::Pow);
}

#[test]
fn expiry_is_exclusive() {
    let s = settings();
    let token = mint(&s, 1_000);
    let bnd = binding_hash(s.binding, FP);
    assert!(check(&s, &token, "https://gw.example", &bnd, 1_299).is_ok());
    assert_eq!(
        check(&s, &token, "https://gw.example", &bnd, 1_300).unwrap_err(),
        TokenRejection::Expired
    );
}

#[test]
fn a_token_from_the_future_is_refused() {
    let s = settings();
    let token = mint(&s, 2_000);
    let bnd = binding_hash(s.binding, FP);
    assert_eq!(
        check(&s, &token, "https://gw.example", &bnd, 1_000).unwrap_err(),
        TokenRejection::IssuedInFuture
    );
}

#[test]
fn another_user_agent_or_client_is_the_wrong_binding() {
    let s = settings();
    let token = mint(&s, 1_000);
    for other in [
        Fingerprint {
            user_agent: "curl/8",
            ..FP
        },
        Fingerprint {
            client_key: "ip:198.51.100.1",
            ..FP
        },
    ] {
        let bnd = binding_hash(s.binding, other);
        assert_eq!(
            check(&s, &token, "https://gw.example", &bnd, 1_001).unwrap_err(),
            TokenRejection::WrongBinding
        );
    }
}

#[test]
fn the_ip_counts_only_when_bound() {
    let unbound = Binding::parse("user_agent,client_key").unwrap();
    let moved = Fingerprint {
        ip: "198.51.100.1",
        ..FP
    };
    assert_eq!(binding_hash(unbound, FP), binding_hash(unbound, moved));
    let bound = Binding::parse("user_agent,client_key,ip").unwrap();
    assert_ne!(binding_hash(bound, FP), binding_hash(bound, moved));
}

#[test]
fn fields_cannot_be_shifted_between_parts() {
    let b = Binding::parse("user_agent,client_key").unwrap();
    let a = Fingerprint {
        user_agent: "ab",
        client_key: "c",
        ip: "",
    };
    let shifted = Fingerprint {
        user_agent: "a",
        client_key: "bc",
        ip: "",
    };
    assert_ne!(binding_hash(b, a), binding_hash(b, shifted));
}

#[test]
fn wrong_audience_and_issuer_are_refused() {
    let s = settings();
    let token = mint(&s, 1_000);
    let bnd = binding_hash(s.binding, FP);
    assert_eq!(
        check(&s, &token, "https://other.example", &bnd, 1_001).unwrap_err(),
        TokenRejection::WrongAudience
    );
    let other_issuer = TokenSettings {
        issuer: "someone-else".into(),
        ..settings()
    };
    assert_eq!(
        check(&other_issuer, &token, "https://gw.example", &bnd, 1_001).unwrap_err(),
        TokenRejection::WrongIssuer
    );
}

#[test]
fn binding_parse_rejects_unknown_parts() {
    assert_eq!(Binding::parse("user_agent,cookie").unwrap_err(), "cookie");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Flip any one bit of the token's text: it must never verify.
    #[test]
    fn any_flipped_bit_is_rejected(index in any::<prop::sample::Index>(), bit in 0u8..7) {
        let s = settings();
        let token = mint(&s, 1_000);
        let mut raw = token.clone().into_bytes();
        let i = index.index(raw.len());
        raw[i] ^= 1 << bit;
        let Ok(tampered) = String::from_utf8(raw) else { return Ok(()) };
        prop_assume!(tampered != token);
        let bnd = binding_hash(s.binding, FP);
        prop_assert!(check(&s, &tampered, "https://gw.example", &bnd, 1_001).is_err());
    }
}

#[test]
fn a_reduced_grant_lives_longer_and_names_its_tools() {
    let s = settings();
    let fallback = crate::config::BudgetFallback {
        tools: vec!["echo".into()],
        methods: vec!["tools/list".into()],
        ttl_s: 900,
    };
    let bnd = binding_hash(s.binding, FP);
    let (token, claims) = issue(
        &s,
        Issue {
            audience: "https://gw.example",
            subject: FP.client_key,
            binding_hash: bnd.clone(),
            jti: "j2".into(),
            via: Via::Pow,
            now_s: 1_000,
            reduced: Some(&fallback),
            route: Some("main"),
        },
    );
    assert_eq!(claims.exp, 1_900);
    let checked = check(&s, &token, "https://gw.example", &bnd, 1_800).unwrap();
    assert_eq!(checked.tools.as_deref(), Some(&["echo".to_string()][..]));
}

fn call(method: &str, name: Option<&str>) -> Call {
    Call {
        method: method.into(),
        name: name.map(str::to_string),
        ..Call::default()
    }
}

fn reduced_claims() -> AccessClaims {
    AccessClaims {
        iss: "gatehouse".into(),
        aud: "a".into(),
        sub: "s".into(),
        iat: 0,
        exp: 1,
        jti: "j".into(),
        bnd: "b".into(),
        grant: 10,
        via: Via::Pow,
        tools: Some(vec!["echo".into()]),
        methods: Some(vec!["tools/list".into(), "initialize".into()]),
        route: Some("main".into()),
    }
}

#[test]
fn a_reduced_grant_admits_only_its_allow_list() {
    let c = reduced_claims();
    assert!(c.permits(&[call("tools/call", Some("echo"))]));
    assert!(c.permits(&[call("tools/list", None), call("initialize", None)]));
    for denied in [
        vec![call("tools/call", Some("rm"))],
        vec![call("tools/call", None)],
        vec![call("resources/read", Some("file:///etc/passwd"))],
        vec![call("prompts/get", Some("echo"))],
        vec![
            call("tools/call", Some("echo")),
            call("resources/list", None),
        ],
        vec![],
    ] {
        assert!(!c.permits(&denied), "{denied:?}");
    }
}

#[test]
fn a_reduced_grant_without_a_method_list_admits_only_its_tools() {
    let c = AccessClaims {
        methods: None,
        ..reduced_claims()
    };
    assert!(c.permits(&[call("tools/call", Some("echo"))]));
    assert!(!c.permits(&[call("tools/list", None)]));
}

#[test]
fn a_full_grant_admits_anything() {
    let c = AccessClaims {
        tools: None,
        methods: None,
        ..reduced_claims()
    };
    assert!(c.permits(&[]));
    assert!(c.permits(&[call("resources/read", Some("x"))]));
}

#[test]
fn a_token_pays_only_on_the_route_it_was_bought_on() {
    let c = reduced_claims();
    assert_eq!(c.pays_on("main", false), Ok(()));
    assert_eq!(c.pays_on("paid", false), Err(TokenRejection::WrongRoute));
    assert_eq!(c.pays_on("paid", true), Err(TokenRejection::WrongRoute));
    let old = AccessClaims {
        route: None,
        ..reduced_claims()
    };
    assert_eq!(old.pays_on("main", false), Err(TokenRejection::WrongRoute));
    assert_eq!(
        old.pays_on("main", true),
        Ok(()),
        "one route: nowhere else to pay"
    );
}
