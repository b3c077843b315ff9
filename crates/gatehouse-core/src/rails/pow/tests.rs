use super::*;
use crate::wire::bytes::to_hex;

/// The published vectors (`docs/pow-vectors.json`, shared with the JS client's tests): each
/// nonce is the smallest that meets its difficulty. They were generated and cross-checked with
/// Python's hashlib, independently of this code.
#[derive(serde::Deserialize)]
struct Vector {
    salt: String,
    nonce: String,
    difficulty: u8,
    sha256: String,
}

#[test]
fn published_vectors_hold() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("../../../../../docs/pow-vectors.json")).unwrap();
    assert!(vectors.len() >= 5);
    for v in vectors {
        let d = digest(&v.salt, &v.nonce);
        assert_eq!(to_hex(&d), v.sha256, "digest of {}+{}", v.salt, v.nonce);
        assert!(meets_difficulty(&v.salt, &v.nonce, v.difficulty));
        assert_eq!(
            solve(&v.salt, v.difficulty, 0).to_string(),
            v.nonce,
            "smallest nonce for {}",
            v.salt
        );
    }
}

#[test]
fn sha256_of_abc_is_the_fips_vector() {
    assert_eq!(
        to_hex(&digest("ab", "c")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn leading_zero_bits_counts_bits_not_hex_digits() {
    assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x80]), 16);
    assert_eq!(leading_zero_bits(&[0x00, 0x0f]), 12);
    assert_eq!(leading_zero_bits(&[0x01]), 7);
    assert_eq!(leading_zero_bits(&[0xff]), 0);
    assert_eq!(leading_zero_bits(&[0u8; 32]), 256);
}

#[test]
fn a_solution_for_one_salt_does_not_carry_to_another() {
    let nonce = solve("aa", 12, 0).to_string();
    assert!(meets_difficulty("aa", &nonce, 12));
    // A different salt makes an independent puzzle; this nonce meets it only by chance (2^-12).
    let carried = (0..16)
        .filter(|i| meets_difficulty(&format!("a{i:x}"), &nonce, 12))
        .count();
    assert!(carried <= 1);
}

#[test]
fn non_canonical_nonces_are_refused_before_hashing() {
    for bad in [
        "",
        "-1",
        "+1",
        "01",
        "1.0",
        "1e3",
        " 1",
        "18446744073709551616",
        "０",
    ] {
        assert!(!is_canonical_nonce(bad), "{bad:?}");
    }
    for good in ["0", "7", "18446744073709551615"] {
        assert!(is_canonical_nonce(good), "{good:?}");
    }
}

#[test]
fn estimated_hashes_doubles_per_bit() {
    assert_eq!(estimated_hashes(14), 16_384);
    assert_eq!(estimated_hashes(20), 1_048_576);
}
