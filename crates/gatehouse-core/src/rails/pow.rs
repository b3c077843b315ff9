//! The proof-of-work rule (the project's own format, `docs/PROTOCOL.md` §1):
//! `sha256(utf8(salt_hex + nonce))` must start with at least `difficulty` zero BITS, where the
//! nonce is the decimal form of an unsigned 64-bit integer.
//!
//! Counting bits rather than hex digits is deliberate: a difficulty of 20 means 2^20 expected
//! hashes, and each added bit doubles the work, so the dial is fine-grained.

use sha2::{Digest, Sha256};

/// The `algorithm` a proof-of-work offer names: the only one.
pub const ALGORITHM: &str = "sha256";

/// Nonces are decimal `u64`: at most 20 digits. Anything longer is refused unhashed.
pub const MAX_NONCE_LEN: usize = 20;

pub fn digest(salt_hex: &str, nonce: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt_hex.as_bytes());
    h.update(nonce.as_bytes());
    h.finalize().into()
}

pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &b in hash {
        if b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// A canonical decimal `u64`: digits only, no sign, no leading zero (except "0" itself).
pub fn is_canonical_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce.bytes().all(|b| b.is_ascii_digit())
        && (nonce == "0" || !nonce.starts_with('0'))
        && nonce.parse::<u64>().is_ok()
}

pub fn meets_difficulty(salt_hex: &str, nonce: &str, difficulty: u8) -> bool {
    is_canonical_nonce(nonce)
        && leading_zero_bits(&digest(salt_hex, nonce)) >= u32::from(difficulty)
}

/// Expected hashes to find a solution: 2^difficulty.
pub fn estimated_hashes(difficulty: u8) -> u64 {
    1u64 << difficulty.min(63)
}

/// The reference solver: the first nonce from `start` upwards that meets `difficulty`. Real
/// clients use the kit's multi-threaded solver; this one anchors tests and vectors.
pub fn solve(salt_hex: &str, difficulty: u8, start: u64) -> u64 {
    let mut buf = String::with_capacity(salt_hex.len() + MAX_NONCE_LEN);
    let mut nonce = start;
    loop {
        buf.clear();
        buf.push_str(salt_hex);
        let prefix_len = buf.len();
        buf.push_str(&nonce.to_string());
        if leading_zero_bits(&Sha256::digest(buf.as_bytes())) >= u32::from(difficulty) {
            return nonce;
        }
        debug_assert_eq!(prefix_len, salt_hex.len());
        nonce = nonce.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests;
