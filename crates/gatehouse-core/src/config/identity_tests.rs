//! Configuration of who a client is counted as, and of the request limits.

use super::tests::{load, problems};
use super::*;

#[test]
fn an_unverified_rate_key_is_an_explicit_opt_in_with_an_address_ceiling() {
    let c = load(&[
        ("RATE_KEY_HEADER", "x-user"),
        ("RATE_KEY_UNVERIFIED", "true"),
        ("ADDRESS_CEILING_PER_MINUTE", "100"),
    ])
    .unwrap();
    let RateKey::Unverified {
        header,
        ceiling,
        mints,
    } = c.identity.rate_key
    else {
        panic!("unverified mode expected");
    };
    assert_eq!(header, "x-user");
    assert_eq!(ceiling.windows()[0].quota, 100);
    assert_eq!(mints.windows()[0].quota, 20);
    assert!(problems(&[("RATE_KEY_UNVERIFIED", "true")])[0].contains("RATE_KEY_HEADER"));
}

#[test]
fn identity_and_request_limits_take_documented_defaults_and_ranges() {
    let c = load(&[]).unwrap();
    assert_eq!(c.identity.ipv6_prefix_bits, 64);
    assert_eq!(c.limits.max_batch_calls, DEFAULT_MAX_BATCH_CALLS as usize);
    assert_eq!(c.limits.redemptions.windows()[0].quota, 30);
    assert_eq!(c.limits.call_ceiling.windows()[0].quota, 600);
    assert!(!problems(&[("IPV6_PREFIX_BITS", "16")]).is_empty());
    assert!(!problems(&[("MAX_BATCH_CALLS", "0")]).is_empty());
    let tiers = load(&[("KEY_TIERS", "free=10/60,pro=100/60")]).unwrap();
    assert_eq!(
        tiers.identity.key_tier("pro").unwrap().policy.windows()[0].quota,
        100
    );
    assert!(tiers.identity.key_tier("gold").is_none());
    assert!(!problems(&[("KEY_TIERS", "free")]).is_empty());
}
