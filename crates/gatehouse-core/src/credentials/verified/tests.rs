use super::*;
use crate::credentials::api_key::{self, ApiKey, KeyRejection};
use crate::credentials::keys::parse_key_ring;
use crate::credentials::token::{
    binding_hash, check, check_remembered, issue, AccessClaims, Binding, Fingerprint, Issue,
    TokenRejection, TokenSettings, Via,
};
use proptest::prelude::*;

fn settings() -> TokenSettings {
    TokenSettings {
        ttl_s: 300,
        grant: 60,
        binding: Binding::parse("user_agent,client_key").unwrap(),
        keys: parse_key_ring("k1:0123456789abcdef0123456789abcdef").unwrap(),
        issuer: "gatehouse".into(),
    }
}

const FP: Fingerprint = Fingerprint {
    user_agent: "agent/1.0",
    client_key: "key:a",
    ip: "203.0.113.9",
};
const AUD: &str = "https://gw.example";

fn mint(s: &TokenSettings, now_s: u64) -> String {
    let issued = Issue {
        audience: AUD,
        subject: FP.client_key,
        binding_hash: binding_hash(s.binding, FP),
        jti: "j1".into(),
        via: Via::Pow,
        now_s,
        reduced: None,
        route: Some("main"),
    };
    issue(s, issued).0
}

#[test]
fn the_memo_answers_only_for_the_text_it_checked_and_only_until_its_expiry() {
    let mut memo = Verified::new(8);
    let calls = std::cell::Cell::new(0);
    let check = |t: &str| {
        calls.set(calls.get() + 1);
        if t.starts_with("good") {
            Ok(t.len())
        } else {
            Err("bad")
        }
    };
    assert_eq!(checked(&mut memo, "good-1", 100, check, |_| 200), Ok(6));
    assert_eq!(checked(&mut memo, "good-1", 199, check, |_| 200), Ok(6));
    assert_eq!(
        calls.get(),
        1,
        "the second presentation is answered from the memo"
    );
    assert_eq!(checked(&mut memo, "good-1 ", 150, check, |_| 200), Ok(7));
    assert_eq!(calls.get(), 2, "another text is checked in full");
    assert_eq!(checked(&mut memo, "good-1", 200, check, |_| 300), Ok(6));
    assert_eq!(calls.get(), 3, "past its expiry, checked again");
    assert_eq!(checked(&mut memo, "bad", 150, check, |_| 900), Err("bad"));
    assert_eq!(checked(&mut memo, "bad", 150, check, |_| 900), Err("bad"));
    assert_eq!(calls.get(), 5, "a refusal is never kept");
}

#[test]
fn the_memo_holds_at_most_its_capacity_and_nothing_too_long_or_already_expired() {
    let mut memo = Verified::new(4);
    for i in 0..50 {
        memo.keep(&format!("t{i}"), i, 1_000 + i, 10);
        assert!(memo.len() <= 4);
    }
    assert!(memo.get("t49", 10).is_some(), "the latest is kept");
    let long = "x".repeat(MAX_KEPT_LEN + 1);
    memo.keep(&long, 1, 1_000, 10);
    assert_eq!(memo.get(&long, 10), None);
    memo.keep("expired", 1, 10, 10);
    assert_eq!(
        memo.get("expired", 9),
        None,
        "until_s not after now is not kept"
    );
    let mut none = Verified::new(0);
    none.keep("a", 1, 1_000, 10);
    assert!(none.is_empty());
}

#[test]
fn a_full_memo_lets_the_expired_go_first() {
    let mut memo = Verified::new(3);
    memo.keep("old", 1, 20, 10);
    memo.keep("a", 2, 1_000, 10);
    memo.keep("b", 3, 1_000, 10);
    memo.keep("c", 4, 1_000, 30);
    assert_eq!(memo.get("old", 30), None);
    assert_eq!(
        (memo.get("a", 30), memo.get("b", 30), memo.get("c", 30)),
        (Some(2), Some(3), Some(4))
    );
}

#[test]
fn a_remembered_token_is_still_held_to_its_audience_binding_and_lifetime() {
    let s = settings();
    let token = mint(&s, 1_000);
    let bnd = binding_hash(s.binding, FP);
    let mut memo = Verified::<AccessClaims>::new(16);
    assert!(check_remembered(&s, &mut memo, &token, AUD, &bnd, 1_001).is_ok());
    assert_eq!(memo.len(), 1);
    assert_eq!(
        check_remembered(&s, &mut memo, &token, "https://other.example", &bnd, 1_002),
        Err(TokenRejection::WrongAudience)
    );
    assert_eq!(
        check_remembered(&s, &mut memo, &token, AUD, "another-binding", 1_002),
        Err(TokenRejection::WrongBinding)
    );
    assert_eq!(
        check_remembered(&s, &mut memo, &token, AUD, &bnd, 1_300),
        Err(TokenRejection::Expired)
    );
}

#[test]
fn a_remembered_key_answers_as_the_key_did() {
    let ring = settings().keys;
    let key = api_key::mint(&ring, "agent-1", "pro", 1_000);
    let mut memo = Verified::<ApiKey>::new(16);
    let first = api_key::verify_remembered(&ring, &mut memo, &key, 1_001).unwrap();
    let again = api_key::verify_remembered(&ring, &mut memo, &key, 9_999_999).unwrap();
    assert_eq!(first, again);
    assert_eq!(first, api_key::verify(&ring, &key).unwrap());
    // A character in the middle of the signature changed: well-formed, and its MAC is wrong.
    let at = key.rfind('.').unwrap() + 10;
    let swap = if &key[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &key[..at], &key[at + 1..]);
    assert_eq!(
        api_key::verify_remembered(&ring, &mut memo, &forged, 1_002),
        Err(KeyRejection::BadSignature)
    );
    assert_eq!(memo.len(), 1, "a refused key is not kept");
}

#[test]
fn a_padded_key_is_one_entry() {
    let ring = settings().keys;
    let key = api_key::mint(&ring, "agent-1", "pro", 1_000);
    let mut memo = Verified::<ApiKey>::new(16);
    for pad in [" ", "\u{a0}", "\u{85}", "\t\u{a0}\u{a0}", "\u{c}\u{b}"] {
        let padded = format!("{pad}{key}{pad}");
        assert_eq!(
            api_key::verify_remembered(&ring, &mut memo, &padded, 1_001),
            api_key::verify(&ring, &padded)
        );
    }
    assert_eq!(memo.len(), 1);
}

#[test]
fn a_full_memo_of_live_entries_is_not_swept_on_every_insert() {
    let mut memo = Verified::new(16);
    for i in 0..16 {
        memo.keep(&format!("live{i:02}"), i, 1_000, 10);
    }
    memo.keep("one-more", 99, 1_000, 10);
    assert_eq!(
        memo.len(),
        1,
        "swept whole, once: less than an eighth had expired"
    );
    for i in 0..15 {
        memo.keep(&format!("next{i:02}"), i, 1_000, 10);
    }
    assert_eq!(memo.len(), 16);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever is presented, in whatever order, against a memo of a few entries: the memo's
    /// answer is the full check's answer.
    #[test]
    fn remembered_checks_answer_as_full_checks(
        picks in prop::collection::vec((0usize..4, any::<prop::sample::Index>(), 0u8..7, 0u64..400), 1..40)
    ) {
        let s = settings();
        let tokens = [mint(&s, 1_000), mint(&s, 1_100), mint(&s, 900), "a.b.c".to_string()];
        let bnd = binding_hash(s.binding, FP);
        let mut memo = Verified::<AccessClaims>::new(2);
        for (which, index, bit, later) in picks {
            let mut raw = tokens[which].clone().into_bytes();
            // Every other presentation flips one bit of the text.
            if later % 2 == 1 {
                let i = index.index(raw.len());
                raw[i] ^= 1 << bit;
            }
            let Ok(presented) = String::from_utf8(raw) else { continue };
            let now = 1_000 + later;
            prop_assert_eq!(
                check_remembered(&s, &mut memo, &presented, AUD, &bnd, now),
                check(&s, &presented, AUD, &bnd, now)
            );
        }
    }
}
