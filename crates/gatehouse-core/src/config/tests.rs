use super::*;
use std::collections::HashMap;

const KEY: &str = "k1:0123456789abcdef0123456789abcdef";

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut base: HashMap<String, String> = [
        ("ORIGIN_URL", "https://mcp.example.com"),
        ("TOKEN_SIGNING_KEYS", KEY),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in pairs {
        base.insert(k.to_string(), v.to_string());
    }
    base
}

pub(super) fn load(pairs: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let map = vars(pairs);
    Config::from_vars(&|name| map.get(name).cloned())
}

pub(super) fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
    load(pairs).unwrap_err()
}

#[test]
fn minimal_config_takes_the_documented_defaults() {
    let c = load(&[]).unwrap();
    assert_eq!(
        c.routes[0].origin.join("/mcp"),
        "https://mcp.example.com/mcp"
    );
    assert_eq!(c.origin_timeout_ms, 30_000);
    assert_eq!(c.quota.windows().len(), 1);
    assert_eq!(
        (c.quota.windows()[0].quota, c.quota.windows()[0].seconds),
        (60, 60)
    );
    assert_eq!(
        c.pow,
        PowSettings {
            min_bits: 12,
            base_bits: 14,
            max_bits: 16
        }
    );
    assert_eq!(c.challenge_ttl_s, 60);
    assert_eq!((c.token.ttl_s, c.token.grant), (300, 60));
    assert_eq!(
        c.token.binding,
        Binding {
            user_agent: true,
            client_key: true,
            ip: false
        }
    );
    assert_eq!(c.token.issuer, "gatehouse");
    assert!(
        c.admin_secret.is_none()
            && c.routes[0].credential.is_none()
            && c.identity.rate_key == RateKey::Address
    );
}

#[test]
fn origin_url_is_required() {
    let map: HashMap<&str, &str> = [("TOKEN_SIGNING_KEYS", KEY)].into();
    let p = Config::from_vars(&|n| map.get(n).map(|v| v.to_string())).unwrap_err();
    assert_eq!(p, ["ORIGIN_URL is required"]);
}

#[test]
fn signing_keys_are_required() {
    let map: HashMap<&str, &str> = [("ORIGIN_URL", "https://mcp.example.com")].into();
    let p = Config::from_vars(&|n| map.get(n).map(|v| v.to_string())).unwrap_err();
    assert_eq!(p, ["TOKEN_SIGNING_KEYS is required"]);
}

#[test]
fn loopback_origin_needs_local_dev() {
    assert!(problems(&[("ORIGIN_URL", "http://127.0.0.1:3000")])[0].contains("LOCAL_DEV"));
    assert!(
        load(&[
            ("ORIGIN_URL", "http://127.0.0.1:3000"),
            ("LOCAL_DEV", "true")
        ])
        .unwrap()
        .local_dev
    );
}

#[test]
fn metadata_origin_is_refused_as_ssrf() {
    assert!(problems(&[("ORIGIN_URL", "https://169.254.169.254")])[0].contains("SSRF"));
}

#[test]
fn numbers_out_of_range_are_reported() {
    let p = problems(&[("ORIGIN_TIMEOUT_MS", "5"), ("TOKEN_TTL_SECONDS", "abc")]);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].starts_with("ORIGIN_TIMEOUT_MS=\"5\""));
}

#[test]
fn flags_accept_only_true_or_false() {
    assert!(problems(&[("LOCAL_DEV", "maybe")])[0].contains("true or false"));
}

#[test]
fn an_hourly_window_joins_the_minute_window() {
    let c = load(&[("QUOTA_PER_HOUR", "1000")]).unwrap();
    let w: Vec<_> = c
        .quota
        .windows()
        .iter()
        .map(|w| (w.name.as_str(), w.quota, w.seconds))
        .collect();
    assert_eq!(w, [("minute", 60, 60), ("hour", 1000, 3600)]);
}

#[test]
fn no_window_at_all_is_refused() {
    assert!(problems(&[("QUOTA_PER_MINUTE", "0")])[0].contains("no quota"));
}

#[test]
fn pow_bits_must_be_ordered() {
    assert!(
        problems(&[("POW_MIN_BITS", "18"), ("POW_MAX_BITS", "16")])[0].contains("POW_MIN_BITS <=")
    );
}

#[test]
fn rate_key_header_must_be_a_header_name() {
    assert!(problems(&[("RATE_KEY_HEADER", "x api key")])[0].contains("not a valid header name"));
    assert_eq!(
        load(&[("RATE_KEY_HEADER", "X-Api-Key")])
            .unwrap()
            .identity
            .rate_key,
        RateKey::IssuedKey {
            header: "x-api-key".into()
        }
    );
}

#[test]
fn token_binding_names_known_parts_only() {
    assert!(problems(&[("TOKEN_BINDING", "user_agent,cookie")])[0].contains("cookie"));
    assert!(
        load(&[("TOKEN_BINDING", "user_agent,client_key,ip")])
            .unwrap()
            .token
            .binding
            .ip
    );
}

#[test]
fn short_admin_secret_is_refused() {
    assert!(problems(&[("ADMIN_SECRET", "short")])[0].starts_with("ADMIN_SECRET"));
}

#[test]
fn origin_credential_comes_from_the_secret_with_a_configurable_header() {
    let c = load(&[
        ("ORIGIN_AUTH_VALUE", "Bearer origin-secret"),
        ("ORIGIN_AUTH_HEADER", "X-Origin-Key"),
    ])
    .unwrap();
    let cred = c.routes[0].credential.clone().unwrap();
    assert_eq!(
        (cred.header.as_str(), cred.value.as_str()),
        ("x-origin-key", "Bearer origin-secret")
    );
    assert!(!format!("{cred:?}").contains("origin-secret"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(&[
        ("ORIGIN_URL", "ftp://x"),
        ("TOKEN_SIGNING_KEYS", "k1:short"),
        ("POW_BASE_BITS", "99"),
        ("LOCAL_DEV", "perhaps"),
    ]);
    assert_eq!(p.len(), 4, "{p:?}");
}

#[test]
fn problem_lines_never_echo_secrets() {
    let p = problems(&[
        ("TOKEN_SIGNING_KEYS", "k1:tooshortsecret"),
        ("ADMIN_SECRET", "tiny-secret"),
    ]);
    assert!(
        p.iter()
            .all(|l| !l.contains("tooshortsecret") && !l.contains("tiny-secret")),
        "{p:?}"
    );
}

const L402_VARS: &[(&str, &str)] = &[
    ("CHALLENGE_OFFERS", "l402,pow"),
    ("L402_BACKEND_URL", "https://lnbits.example.com"),
    ("L402_BACKEND_KEY", "invoice-key"),
    ("L402_ROOT_KEY", "0123456789abcdef0123456789abcdef"),
];

#[test]
fn l402_offers_take_their_defaults_in_order() {
    let c = load(L402_VARS).unwrap();
    assert_eq!(c.offers, [OfferKind::L402, OfferKind::Pow]);
    let l402 = c.l402.unwrap();
    assert_eq!(
        (l402.settings.price_sats, l402.settings.invoice_expiry_s),
        (3, 300)
    );
    assert_eq!(l402.settings.service, "gatehouse");
    assert_eq!(l402.backend, Backend::Lnbits);
    assert!(!format!("{l402:?}").contains("invoice-key"));
}

#[test]
fn l402_needs_its_backend_and_keys() {
    let p = problems(&[("CHALLENGE_OFFERS", "l402")]);
    for name in ["L402_BACKEND_URL", "L402_BACKEND_KEY", "L402_ROOT_KEY"] {
        assert!(
            p.iter().any(|l| l == &format!("{name} is required")),
            "{p:?}"
        );
    }
}

#[test]
fn l402_rules_are_each_checked() {
    let mut vars = L402_VARS.to_vec();
    vars.extend([
        ("L402_BACKEND", "eclair"),
        ("L402_ROOT_KEY", "short"),
        ("L402_SERVICE", "Bad:Name"),
        ("L402_PRICE_SATS", "0"),
    ]);
    assert_eq!(problems(&vars).len(), 4, "{:?}", problems(&vars));
    let mut lnd = L402_VARS.to_vec();
    lnd.push(("L402_BACKEND", "lnd"));
    assert_eq!(load(&lnd).unwrap().l402.unwrap().backend, Backend::Lnd);
}

#[test]
fn l402_backend_url_follows_the_origin_rules() {
    let mut vars = L402_VARS.to_vec();
    vars.push(("L402_BACKEND_URL", "http://127.0.0.1:5000"));
    assert!(problems(&vars)[0].contains("LOCAL_DEV"));
    vars.push(("LOCAL_DEV", "true"));
    assert!(load(&vars).is_ok());
}

#[test]
fn offers_name_known_kinds_once() {
    assert!(problems(&[("CHALLENGE_OFFERS", "pow,pow")])[0].contains("twice"));
    assert!(problems(&[("CHALLENGE_OFFERS", "bitcoin")])[0].contains("bitcoin"));
    assert!(problems(&[("CHALLENGE_OFFERS", ",")])[0].contains("nothing"));
}

const OAUTH_VARS: &[(&str, &str)] = &[
    ("OAUTH_MODE", "optional"),
    ("OAUTH_ISSUER", "https://auth.example.com/tenant"),
    ("OAUTH_RESOURCE", "https://gw.example.com/mcp/"),
];

#[test]
fn oauth_is_off_by_default_and_takes_defaults_when_on() {
    assert!(load(&[]).unwrap().oauth.is_none());
    let o = load(OAUTH_VARS).unwrap().oauth.unwrap();
    assert_eq!(
        o.resource, "https://gw.example.com/mcp",
        "canonical: no trailing slash"
    );
    assert_eq!(o.resource_path, "/mcp");
    assert_eq!(
        o.metadata_url.join(&o.metadata_path),
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant"
    );
    assert_eq!(
        o.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["basic", "production"]
    );
    assert_eq!(o.leeway_s, 30);
}

#[test]
fn oauth_needs_an_issuer_and_a_resource() {
    let p = problems(&[("OAUTH_MODE", "required")]);
    assert!(
        p.contains(&"OAUTH_ISSUER is required".to_string())
            && p.contains(&"OAUTH_RESOURCE is required".to_string()),
        "{p:?}"
    );
    assert!(problems(&[("OAUTH_MODE", "sometimes")])[0].contains("off, optional or required"));
}

#[test]
fn oauth_urls_follow_the_origin_rules() {
    let mut vars = OAUTH_VARS.to_vec();
    vars.push(("OAUTH_JWKS_URL", "http://10.0.0.1/jwks"));
    assert!(problems(&vars)[0].starts_with("OAUTH_JWKS_URL"));
}

#[test]
fn wildcard_scopes_are_refused() {
    let mut vars = OAUTH_VARS.to_vec();
    vars.push(("OAUTH_REQUIRED_SCOPES", "mcp:*"));
    assert!(problems(&vars)[0].contains("no wildcards"));
}

#[test]
fn tool_scopes_parse_and_join_scopes_supported() {
    let mut vars = OAUTH_VARS.to_vec();
    vars.push((
        "OAUTH_TOOL_SCOPES",
        "delete=mcp:admin; echo=mcp:tools mcp:echo",
    ));
    vars.push(("OAUTH_SCOPES_SUPPORTED", "mcp:tools offline_access"));
    let o = load(&vars).unwrap().oauth.unwrap();
    assert_eq!(
        o.tool_scopes[1],
        (
            "echo".to_string(),
            vec!["mcp:tools".to_string(), "mcp:echo".to_string()]
        )
    );
    assert_eq!(
        o.scopes_supported,
        ["mcp:tools", "offline_access", "mcp:admin", "mcp:echo"]
    );
    let mut bad = OAUTH_VARS.to_vec();
    bad.push(("OAUTH_TOOL_SCOPES", "delete=;delete=x;noequals"));
    assert_eq!(problems(&bad).len(), 3, "{:?}", problems(&bad));
}

#[test]
fn tiers_and_client_tiers_are_checked() {
    let mut vars = OAUTH_VARS.to_vec();
    vars.push(("OAUTH_TIERS", "free=60/60+500/3600,pro=5000/3600"));
    vars.push(("OAUTH_CLIENT_TIERS", "acme=pro"));
    let o = load(&vars).unwrap().oauth.unwrap();
    assert_eq!(o.tiers[0].policy.windows().len(), 2);
    assert_eq!(o.client_tiers, [("acme".to_string(), "pro".to_string())]);
    let mut bad = OAUTH_VARS.to_vec();
    bad.push(("OAUTH_TIERS", "free=60,pro=1/1,pro=2/2"));
    bad.push(("OAUTH_CLIENT_TIERS", "acme=gold"));
    assert_eq!(problems(&bad).len(), 3, "{:?}", problems(&bad));
}

#[test]
fn without_policy_one_route_serves_every_path() {
    let c = load(&[
        ("LEGACY_USER_AGENTS", "OldBot/*, curl/*"),
        ("LEGACY_GRACE_SECONDS", "30"),
        ("IN_BAND_CHALLENGES", "true"),
    ])
    .unwrap();
    assert_eq!(c.routes.len(), 1);
    let r = &c.routes[0];
    assert_eq!((r.name.as_str(), r.prefix.as_str()), ("default", "/"));
    assert!(r.in_band);
    // The default too: stock MCP clients throw on an HTTP 402.
    assert!(load(&[]).unwrap().routes[0].in_band);
    assert_eq!(r.legacy.grace_s, 30);
    assert!(r.legacy.user_agents[1].matches("curl/8.4"));
}

#[test]
fn a_policy_replaces_origin_url_and_its_l402_offer_needs_l402_settings() {
    let map: HashMap<&str, &str> = [
        ("TOKEN_SIGNING_KEYS", KEY),
        ("POLICY", r#"{"origins":[{"name":"a","prefix":"/a","url":"https://a.example","offers":["l402"]}]}"#),
    ]
    .into();
    let p = Config::from_vars(&|n| map.get(n).map(|v| v.to_string())).unwrap_err();
    assert!(
        p.iter().any(|l| l == "L402_BACKEND_URL is required"),
        "{p:?}"
    );
    assert!(!p.iter().any(|l| l.contains("ORIGIN_URL")), "{p:?}");
}

#[test]
fn policy_problems_are_reported_with_the_rest() {
    let p = problems(&[("POLICY", "{\"origins\": 3}"), ("LOCAL_DEV", "maybe")]);
    assert_eq!(p.len(), 2, "{p:?}");
}
