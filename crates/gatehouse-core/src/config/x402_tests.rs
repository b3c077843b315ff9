//! Configuration of the x402 offer.

use super::tests::{load, problems};
use super::*;

const X402: &[(&str, &str)] = &[
    ("CHALLENGE_OFFERS", "x402,pow"),
    ("X402_NETWORK", "eip155:84532"),
    ("X402_ASSET", "0x036CbD53842c5426634e7929541eC2318f3dCF7e"),
    ("X402_PAY_TO", "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"),
    ("X402_PRICE_PER_CALL", "1000"),
    ("X402_ASSET_NAME", "USDC"),
    ("X402_ASSET_VERSION", "2"),
    (
        "X402_FACILITATOR_URL",
        "https://x402.example.com/facilitator",
    ),
];

fn with(over: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<_> = X402
        .iter()
        .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
        .copied()
        .collect();
    v.extend(over.iter().filter(|(_, val)| !val.is_empty()));
    v
}

#[test]
fn an_x402_offer_reads_its_settings_in_the_configured_order() {
    let c = load(X402).unwrap();
    assert_eq!(c.offers, [OfferKind::X402, OfferKind::Pow]);
    let x = c.x402.unwrap();
    assert_eq!(x.settings.network, "eip155:84532");
    assert_eq!(x.settings.price_per_call, 1_000);
    assert_eq!(x.settings.max_timeout_s, 60);
    assert_eq!(
        x.facilitator_url.join("/verify"),
        "https://x402.example.com/facilitator/verify"
    );
    assert!(x.facilitator_auth.is_none());
}

#[test]
fn x402_settings_are_read_only_when_offered() {
    assert!(load(&[]).unwrap().x402.is_none());
}

#[test]
fn enabling_x402_without_its_settings_is_a_config_error() {
    let p = problems(&[("CHALLENGE_OFFERS", "x402")]);
    for name in [
        "X402_NETWORK",
        "X402_ASSET",
        "X402_PAY_TO",
        "X402_PRICE_PER_CALL",
        "X402_ASSET_NAME",
        "X402_ASSET_VERSION",
        "X402_FACILITATOR_URL",
    ] {
        assert!(p.iter().any(|l| l.contains(name)), "{name}: {p:?}");
    }
}

#[test]
fn bad_x402_settings_are_each_named() {
    for (name, value) in [
        ("X402_NETWORK", "base-sepolia"),
        ("X402_ASSET", "0x1234"),
        ("X402_PAY_TO", "merchant"),
        ("X402_PRICE_PER_CALL", "0"),
        ("X402_PRICE_PER_CALL", "1.5"),
        ("X402_MAX_TIMEOUT_SECONDS", "5"),
        ("X402_ASSET_NAME", "a\nb"),
    ] {
        let p = problems(&with(&[(name, value)]));
        assert!(
            p.iter().any(|l| l.contains(name)),
            "{name}={value:?}: {p:?}"
        );
    }
}

#[test]
fn a_facilitator_url_follows_the_origin_ssrf_rules() {
    for url in [
        "http://x402.example.com",
        "https://127.0.0.1:4021",
        "https://user:pw@x402.example.com",
        "https://169.254.169.254",
    ] {
        let p = problems(&with(&[("X402_FACILITATOR_URL", url)]));
        assert!(
            p.iter().any(|l| l.contains("X402_FACILITATOR_URL")),
            "{url}: {p:?}"
        );
    }
    // Loopback over http only for local development, as for an origin.
    let local = with(&[
        ("X402_FACILITATOR_URL", "http://127.0.0.1:4021"),
        ("LOCAL_DEV", "true"),
    ]);
    assert!(load(&local).is_ok());
}

#[test]
fn a_route_may_offer_x402_in_its_policy() {
    let policy = r#"{"origins":[{"name":"paid","prefix":"/mcp","url":"https://mcp.example.com","offers":["x402","l402","pow"]}]}"#;
    let mut v = with(&[("CHALLENGE_OFFERS", "pow")]);
    v.push(("POLICY", policy));
    let p = problems(&v);
    // l402 is offered too, so its settings are required; x402's are there.
    assert!(p.iter().all(|l| !l.contains("X402")), "{p:?}");
    assert!(p.iter().any(|l| l.contains("L402")), "{p:?}");
}
