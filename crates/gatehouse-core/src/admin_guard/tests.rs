use super::*;

const OWN: &str = "https://gw.example";

fn post<'a>() -> AdminRequest<'a> {
    AdminRequest {
        method: "POST",
        content_type: Some("application/json"),
        own_origin: OWN,
        ..AdminRequest::default()
    }
}

fn refusal(req: &AdminRequest) -> Option<(u16, String)> {
    check(req).err().map(|r| {
        let d = Denial::from(r);
        (d.to_wire().status, d.log_detail())
    })
}

fn wire(req: &AdminRequest) -> crate::wire::denial::Wire {
    Denial::from(check(req).unwrap_err()).to_wire()
}

#[test]
fn reads_pass_whatever_their_headers_say() {
    for method in ["GET", "HEAD", "get"] {
        let req = AdminRequest {
            method,
            content_type: Some("text/plain"),
            sec_fetch_site: Some("cross-site"),
            origin: Some("https://evil.example"),
            own_origin: OWN,
        };
        assert!(check(&req).is_ok(), "{method}");
    }
}

#[test]
fn a_json_post_from_a_script_or_curl_passes() {
    assert!(check(&post()).is_ok());
    let with_charset = AdminRequest {
        content_type: Some("Application/JSON; charset=utf-8"),
        ..post()
    };
    assert!(check(&with_charset).is_ok());
}

#[test]
fn a_same_origin_page_and_the_users_own_action_pass() {
    for site in ["same-origin", "none"] {
        let req = AdminRequest {
            sec_fetch_site: Some(site),
            origin: Some(OWN),
            ..post()
        };
        assert!(check(&req).is_ok(), "{site}");
    }
}

#[test]
fn every_state_changing_method_needs_a_json_body_else_415() {
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("text/plain; application/json"),
        ] {
            let req = AdminRequest {
                method,
                content_type,
                ..post()
            };
            let (status, _) = refusal(&req).expect("refused");
            assert_eq!(status, 415, "{method} {content_type:?}");
        }
    }
}

#[test]
fn a_415_names_the_media_type_that_would_do() {
    let wire = wire(&AdminRequest {
        content_type: Some("text/plain"),
        ..post()
    });
    assert_eq!(wire.body["error"], "unsupported_media_type");
    assert!(wire
        .headers
        .iter()
        .any(|(k, v)| *k == "accept" && v == "application/json"));
}

#[test]
fn a_browser_request_from_another_site_is_403_even_with_a_json_body() {
    for site in ["cross-site", "same-site", "something-new"] {
        let req = AdminRequest {
            sec_fetch_site: Some(site),
            ..post()
        };
        assert_eq!(
            refusal(&req),
            Some((403, "cross_origin:sec_fetch_site".into())),
            "{site}"
        );
    }
}

#[test]
fn an_origin_other_than_the_gateways_own_is_403() {
    for origin in [
        "https://evil.example",
        "http://gw.example",
        "https://gw.example:8443",
        "https://gw.example.evil.example",
        "null",
        "",
    ] {
        let req = AdminRequest {
            origin: Some(origin),
            ..post()
        };
        assert_eq!(
            refusal(&req),
            Some((403, "cross_origin:origin".into())),
            "{origin}"
        );
    }
}

#[test]
fn origins_compare_as_origins_not_as_strings() {
    for (origin, own) in [
        ("HTTPS://GW.example", "https://gw.example"),
        ("https://gw.example:443", "https://gw.example"),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ("http://[::1]:8787", "http://[::1]:8787/"),
    ] {
        let req = AdminRequest {
            origin: Some(origin),
            own_origin: own,
            ..post()
        };
        assert!(check(&req).is_ok(), "{origin} vs {own}");
    }
    let other_port = AdminRequest {
        origin: Some("http://127.0.0.1:9999"),
        own_origin: "http://127.0.0.1:8787",
        ..post()
    };
    assert!(check(&other_port).is_err());
}

#[test]
fn a_cross_site_form_post_is_refused_as_cross_origin_before_its_media_type() {
    // What a page on another site makes a browser send: a form with enctype="text/plain".
    let req = AdminRequest {
        method: "POST",
        content_type: Some("text/plain"),
        sec_fetch_site: Some("cross-site"),
        origin: Some("https://evil.example"),
        own_origin: OWN,
    };
    assert_eq!(
        refusal(&req),
        Some((403, "cross_origin:sec_fetch_site".into()))
    );
    assert_eq!(check(&req), Err(Refusal::CrossSite));
    let wire = wire(&req);
    assert_eq!(wire.body["error"], "cross_origin_refused");
}

#[test]
fn frame_ancestors_none_is_added_to_an_existing_policy() {
    assert_eq!(
        with_frame_ancestors_none(Some("default-src 'none'; connect-src 'self';")),
        "default-src 'none'; connect-src 'self'; frame-ancestors 'none'"
    );
}

#[test]
fn frame_ancestors_none_is_the_whole_policy_when_there_is_none() {
    assert_eq!(with_frame_ancestors_none(None), "frame-ancestors 'none'");
    assert_eq!(
        with_frame_ancestors_none(Some("  ")),
        "frame-ancestors 'none'"
    );
}

#[test]
fn a_looser_frame_ancestors_is_replaced_not_kept_beside() {
    assert_eq!(
        with_frame_ancestors_none(Some("Frame-Ancestors *; img-src data:")),
        "img-src data:; frame-ancestors 'none'"
    );
}

#[test]
fn weak_admin_secrets_fall_short_of_128_bits() {
    let strong = [
        "0123456789abcdef0fedcba987654321", // 32 hex digits: 128 bits
        "Zk3q-9vX_aB2cD4eF6gH8j",           // 22 base64url characters: 132 bits
        "test-admin-secret-0123456789",     // lowercase, digits, dash
        "3b0c9f2e7a1d4c6b8e5f0a2d9c7b1e3f5a7c9e1b", // `npm start`'s: 24 random bytes in hex
    ];
    for s in strong {
        assert!(
            secret_bits(s) >= MIN_ADMIN_SECRET_BITS,
            "{s}: {}",
            secret_bits(s)
        );
    }
    let weak = [
        "",
        "hunter2",
        "0123456789abcdef0fedcba98765432", // 31 hex digits: 124 bits
        "correcthorse",
        &"a".repeat(200),
        &"ab".repeat(100),
        &format!("{}xyz0123456789", "a".repeat(40)),
        "12345678901234567890123456789012345678", // 38 digits: 126 bits
        &"Zk3q-9vX".repeat(8),                    // a period of 8: 48 bits
    ];
    for s in weak {
        assert!(
            secret_bits(s) < MIN_ADMIN_SECRET_BITS,
            "{s}: {}",
            secret_bits(s)
        );
    }
}

#[test]
fn failures_are_counted_to_the_limit_and_asking_charges_nothing() {
    use crate::metering::quota::decide_all;
    use std::collections::BTreeMap;
    let mut states = BTreeMap::new();
    let now = 1_000_000;
    for n in 0..FAILURES_PER_ADDRESS {
        let (_, ask) = decide_all(&[failure_check(FAILURES_PER_ADDRESS, false)], &states, now);
        assert!(ask.allowed, "under the limit after {n} failures");
        let (next, rec) = decide_all(&[failure_check(FAILURES_PER_ADDRESS, true)], &states, now);
        assert!(rec.allowed);
        states = next;
    }
    let (after_ask, ask) = decide_all(&[failure_check(FAILURES_PER_ADDRESS, false)], &states, now);
    assert!(!ask.allowed, "at the limit, asking says so");
    assert_eq!(after_ask, states, "and asking charged nothing");
    let (_, rec) = decide_all(&[failure_check(FAILURES_PER_ADDRESS, true)], &states, now);
    assert!(!rec.allowed && rec.retry_after_s.is_some());
    let (_, later) = decide_all(
        &[failure_check(FAILURES_PER_ADDRESS, false)],
        &states,
        now + 61_000,
    );
    assert!(later.allowed, "a minute later the address may try again");
}
