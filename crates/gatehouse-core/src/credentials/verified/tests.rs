use super::*;
use crate::credentials::api_key::{self, ApiKey, KeyRejection};
use crate::credentials::keys::parse_key_ring;
use crate::credentials::token::tests::{mint, settings, FP};
use crate::credentials::token::{
    binding_hash, check, check_remembered, AccessClaims, TokenRejection,
};
use proptest::prelude::*;

// The token module's own fixtures: its settings, fingerprint and minted token.
const AUD: &str = "https://gw.example";

#[test]
fn the_memo_answers_only_for_the_text_it_checked_and_only_until_its_expiry() {
    let mut memo = Verified::new(8);
    let calls = std::cell::Cell::new(0);
    let check = |t: &str| {
        calls.set(calls.get() + 1);
        if t.ends_with(".sig") {
            Ok(t.len())
        } else {
            Err("bad")
        }
    };
    assert_eq!(
        checked(&mut memo, "head.body.sig", 100, check, |_| 200),
        Ok(13)
    );
    assert_eq!(
        checked(&mut memo, "head.body.sig", 199, check, |_| 200),
        Ok(13)
    );
    assert_eq!(
        calls.get(),
        1,
        "the second presentation is answered from the memo"
    );
    assert_eq!(
        checked(&mut memo, "head.body2.sig", 150, check, |_| 200),
        Ok(14)
    );
    assert_eq!(calls.get(), 2, "another signing input is checked in full");
    assert_eq!(
        checked(&mut memo, "head.body.sih", 150, check, |_| 200),
        Err("bad")
    );
    assert_eq!(
        checked(&mut memo, "head.body.si", 150, check, |_| 200),
        Err("bad")
    );
    assert_eq!(
        calls.get(),
        4,
        "the same input with another signature is checked in full"
    );
    assert_eq!(
        checked(&mut memo, "head.body.sig", 150, check, |_| 200),
        Ok(13)
    );
    assert_eq!(
        calls.get(),
        4,
        "and the one that checked out is still known"
    );
    assert_eq!(
        checked(&mut memo, "head.body.sig", 200, check, |_| 300),
        Ok(13)
    );
    assert_eq!(calls.get(), 5, "past its expiry, checked again");
    assert_eq!(checked(&mut memo, "bad", 150, check, |_| 900), Err("bad"));
    assert_eq!(checked(&mut memo, "bad", 150, check, |_| 900), Err("bad"));
    assert_eq!(calls.get(), 7, "a refusal is never kept");
    let plain = |t: &str| Ok::<usize, ()>(t.len());
    checked(&mut memo, "nodots", 150, plain, |_| 900).unwrap();
    assert_eq!(
        memo.get("nodots", 150),
        None,
        "a text that is no JWS is never kept"
    );
}

#[test]
fn the_memo_holds_at_most_its_capacity_and_nothing_too_long_or_already_expired() {
    let mut memo = Verified::new(4);
    for i in 0..50 {
        memo.keep(&format!("t{i}.s"), i, 1_000 + i, 10);
        assert!(memo.len() <= 4);
    }
    assert!(memo.get("t49.s", 10).is_some(), "the latest is kept");
    let long = format!("{}.s", "x".repeat(MAX_KEPT_LEN));
    memo.keep(&long, 1, 1_000, 10);
    assert_eq!(memo.get(&long, 10), None);
    memo.keep("expired.s", 1, 10, 10);
    assert_eq!(
        memo.get("expired.s", 9),
        None,
        "until_s not after now is not kept"
    );
    let mut none = Verified::new(0);
    none.keep("a.s", 1, 1_000, 10);
    assert!(none.is_empty());
}

#[test]
fn a_full_memo_lets_the_expired_go_first() {
    let mut memo = Verified::new(8);
    for i in 0..7 {
        memo.keep(&format!("old{i}.s"), i, 20, 10);
    }
    memo.keep("a.s", 100, 1_000, 10);
    memo.keep("c.s", 101, 1_000, 30);
    assert_eq!(memo.get("old0.s", 30), None);
    assert_eq!(
        (memo.get("a.s", 30), memo.get("c.s", 30)),
        (Some(100), Some(101))
    );
    assert_eq!(memo.len(), 2);
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
        memo.keep(&format!("live{i:02}.s"), i, 1_000, 10);
    }
    memo.keep("one-more.s", 99, 1_000, 10);
    assert_eq!(
        memo.len(),
        1,
        "swept whole, once: less than an eighth had expired"
    );
    for i in 0..15 {
        memo.keep(&format!("next{i:02}.s"), i, 1_000, 10);
    }
    assert_eq!(memo.len(), 16);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The same for keys, padded, altered, or from another ring, against a small memo.
    #[test]
    fn remembered_keys_answer_as_full_checks(
        picks in prop::collection::vec((0usize..4, any::<prop::sample::Index>(), 0u8..7, 0u8..4), 1..40)
    ) {
        let ring = settings().keys;
        let other = parse_key_ring("k1:fedcba9876543210fedcba9876543210").unwrap();
        let keys = [
            api_key::mint(&ring, "agent-1", "pro", 1_000),
            api_key::mint(&ring, "agent-2", "default", 1_000),
            api_key::mint(&other, "agent-1", "pro", 1_000),
            "gk_not.a.key".to_string(),
        ];
        let mut memo = Verified::<ApiKey>::new(2);
        for (which, index, bit, how) in picks {
            let mut raw = keys[which].clone().into_bytes();
            if how == 1 {
                let i = index.index(raw.len());
                raw[i] ^= 1 << bit;
            }
            let Ok(mut presented) = String::from_utf8(raw) else { continue };
            if how == 2 {
                presented = format!("\u{a0} {presented}\t");
            }
            prop_assert_eq!(
                api_key::verify_remembered(&ring, &mut memo, &presented, 1_000),
                api_key::verify(&ring, &presented)
            );
        }
    }
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
