use proptest::prelude::*;
use serde_json::{json, Value};

use super::redact::{is_secret_key, looks_random, mask_secrets, redact, MASK};
use super::{stored_arguments, AuditSettings};

const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbm4iLCJleHAiOjE3MDAwMDAwMDB9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

fn stored(args: &Value) -> String {
    let s = AuditSettings {
        enabled: true,
        redact_keys: vec!["ssn".into()],
        max_arg_bytes: 16_384,
        retention_days: 30,
    };
    stored_arguments(Some(args), &s)
}

#[test]
fn keys_are_matched_as_case_insensitive_substrings() {
    for key in [
        "client_secret",
        "Refresh_Token",
        "private_key",
        "PASSWORD",
        "db_passwd",
        "x-api-key",
        "Authorization",
        "set_cookie",
        "aws_credentials",
        "session_id",
    ] {
        assert!(is_secret_key(key, &[]), "{key}");
    }
    for key in ["user", "message", "query", "count"] {
        assert!(!is_secret_key(key, &[]), "{key}");
    }
}

#[test]
fn the_operators_extra_keys_still_hide_values() {
    let out = stored(&json!({"SSN": "123-45-6789", "patient_ssn": "987", "name": "ann"}));
    assert!(
        !out.contains("123-45-6789") && !out.contains("987"),
        "{out}"
    );
    assert!(out.contains("ann"));
}

#[test]
fn a_hidden_key_hides_its_whole_value_even_a_nested_one() {
    let out = stored(&json!({"credentials": {"user": "ann", "pin": 1234}, "ok": [1, 2]}));
    assert_eq!(out, r#"{"credentials":"[redacted]","ok":[1,2]}"#);
}

#[test]
fn jwts_are_masked_wherever_they_appear() {
    let out = stored(&json!({"note": format!("sent {JWT} to the api"), "list": [[JWT]]}));
    assert!(
        !out.contains("SflKxw") && !out.contains("eyJzdWIi"),
        "{out}"
    );
    assert_eq!(
        out,
        r#"{"list":[["[redacted]"]],"note":"sent [redacted] to the api"}"#
    );
}

#[test]
fn scheme_credentials_are_masked_but_the_scheme_kept() {
    assert_eq!(
        mask_secrets("Authorization: Bearer abc123DEF456ghi"),
        "Authorization: Bearer [redacted]"
    );
    assert_eq!(
        mask_secrets("basic dXNlcjpwYXNzd29yZA=="),
        "basic [redacted]"
    );
    assert_eq!(
        mask_secrets("L402 AgEEbHNhdA:0123456789abcdef"),
        "L402 [redacted]"
    );
    assert_eq!(
        mask_secrets("Basic authentication is used"),
        "Basic authentication is used",
        "a plain word after a scheme is not a credential"
    );
}

#[test]
fn vendor_prefixed_keys_are_masked() {
    for key in [
        "sk-proj-4f9aXk2mQ8rT1vB7nLz",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "xoxb-2048-4096-abcdefABCDEF",
        "AKIAIOSFODNN7EXAMPLE",
        "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    ] {
        assert_eq!(
            mask_secrets(&format!("key={key};")),
            "key=[redacted];",
            "{key}"
        );
    }
    assert_eq!(mask_secrets("pip install sk-learn"), "pip install sk-learn");
    assert_eq!(
        mask_secrets("task-manager-12345678901"),
        "task-manager-12345678901"
    );
}

#[test]
fn long_random_tokens_are_masked_and_ordinary_text_is_not() {
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(mask_secrets(&format!("digest {hex}")), "digest [redacted]");
    assert_eq!(
        mask_secrets("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        MASK
    );
    for plain in [
        "the quick brown fox jumps over the lazy dog again and again",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
        "/usr/share/doc/readme.txt",
        "short1A",
    ] {
        assert_eq!(mask_secrets(plain), plain);
    }
    assert!(!looks_random(b"ABABABABABABABABABABABABABABABABAB"));
}

#[test]
fn masking_keeps_other_text_and_non_ascii_intact() {
    let text = format!("héllo → {JWT} ✓ fin");
    assert_eq!(mask_secrets(&text), "héllo → [redacted] ✓ fin");
}

#[test]
fn masking_is_linear_on_adversarial_text() {
    // Each of these would cost quadratic time to a scanner that restarted inside a failed run.
    for unit in ["eyJa.", "sk-", "Bearer ", "a1A-"] {
        let text = unit.repeat(200_000);
        let _ = mask_secrets(&text);
    }
    let _ = redact(&json!({ "x": "eyJ.".repeat(100_000) }), &[]);
}

/// An alphabet-indexed random token, with all three kinds forced in so the rule applies.
fn token(indices: &[u8], alphabet: &[u8]) -> String {
    let mut t: Vec<u8> = indices
        .iter()
        .map(|i| alphabet[usize::from(*i) % alphabet.len()])
        .collect();
    t[0] = b'Q';
    t[1] = b'q';
    t[2] = b'7';
    String::from_utf8(t).unwrap()
}

const URL64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A secret to plant, and the fragments of it that must not survive.
fn planted() -> impl Strategy<Value = (String, Vec<String>)> {
    let seg = || prop::collection::vec(any::<u8>(), 16..80);
    prop_oneof![
        (seg(), seg(), seg()).prop_map(|(a, b, c)| {
            let parts = [token(&a, URL64), token(&b, URL64), token(&c, URL64)];
            let jwt = format!("eyJ{}.{}.{}", parts[0], parts[1], parts[2]);
            (jwt, parts.to_vec())
        }),
        (
            seg(),
            prop::sample::select(vec!["Bearer", "bearer", "Basic", "L402"])
        )
            .prop_map(|(a, scheme)| {
                let cred = token(&a, URL64);
                (format!("{scheme} {cred}"), vec![cred])
            }),
        (
            seg(),
            prop::sample::select(vec!["sk-", "ghp_", "xoxb-", "AKIA", "glpat-"])
        )
            .prop_map(|(a, prefix)| {
                let key = format!("{prefix}{}", token(&a, URL64));
                (key.clone(), vec![key])
            }),
        prop::collection::vec(any::<u8>(), 32..90).prop_map(|a| {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
            let raw = token(&a, alphabet);
            (raw.clone(), vec![raw])
        }),
    ]
}

/// Ordinary text before the plant, the key it sits under, and how deep.
fn surroundings() -> impl Strategy<Value = (String, String, usize)> {
    let sep = prop::sample::select(vec![" ", "\n", ",", ": ", "=", "(", "\""]);
    ("[a-z ,.:]{0,20}", sep, "[a-z_]{1,8}", 0usize..4)
        .prop_map(|(before, sep, key, depth)| (format!("{before}{sep}"), key, depth))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A planted JWT or secret never survives into the stored arguments, at any depth, under a key
    /// that says nothing about secrets.
    #[test]
    fn a_planted_secret_never_survives_in_the_stored_arguments(
        (plant, fragments) in planted(),
        (before, key, depth) in surroundings(),
        after in "[a-z ,.]{0,20}",
    ) {
        prop_assume!(!is_secret_key(&key, &[]));
        let mut value = json!(format!("{before}{plant} {after}"));
        for level in 0..depth {
            value = if level % 2 == 0 { json!({ key.clone(): value, "n0": 1 }) } else { json!([0, value]) };
        }
        let out = stored(&value);
        for f in &fragments {
            prop_assert!(!out.contains(f.as_str()), "{f} in {out}");
        }
        prop_assert!(out.contains(MASK), "{out}");
    }
}

#[test]
fn secrets_in_urls_forms_and_embedded_json_are_masked() {
    let v = serde_json::json!({
        "dsn": "postgres://app:s3cr3t-pw@db.internal:5432/app",
        "url": "https://api.example/v1?apikey=0123456789abcdef0123&q=weather",
        "form": "user=alice&password=hunter2&remember=1",
        "header": "Bearer%20abcDEF123456789xyz",
        "config": "{\"pass\": \"correct horse\", \"region\": \"eu\"}",
        "pass": "x", "pwd": "y", "passphrase": "z", "mnemonic": "abandon abandon",
    });
    let out = redact(&v, &[]).to_string();
    for secret in [
        "s3cr3t-pw",
        "0123456789abcdef0123",
        "hunter2",
        "abcDEF123456789xyz",
        "correct horse",
        "abandon",
    ] {
        assert!(!out.contains(secret), "{secret} survived in {out}");
    }
    for kept in [
        "db.internal",
        "q=weather",
        "user=alice",
        "remember=1",
        "region",
    ] {
        assert!(out.contains(kept), "{kept} was lost in {out}");
    }
}
