//! A proof-of-work solver for Gatehouse challenges (the rule of `docs/PROTOCOL.md` §1: the first bits of
//! `sha256(salt_hex + decimal nonce)` must be zero), built for speed:
//!
//! - the salt is absorbed once and the hasher state cloned per nonce; salt and nonce fit one
//!   SHA-256 block, so each try costs one compression (with SHA-NI where the CPU has it);
//! - nonces are kept as decimal digits and incremented in place, never formatted;
//! - threads claim chunks of the nonce space from a shared counter and stop as soon as any finds
//!   a solution, so the work scales across cores.
//!
//! Beside it: paying L402 invoices (`lightning`) within a capped `budget` that reads amounts from
//! the invoice itself (`bolt11`), and the rule on which challenges to answer where (`challenge`);
//! every answer the kit reads over HTTP is bounded in bytes and time (`bounded`).

pub mod bolt11;
pub mod bounded;
pub mod budget;
pub mod challenge;
pub mod lightning;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Nonces a thread claims at a time: large enough to make claiming free, small enough to stop
/// promptly once another thread has won.
const CHUNK: u64 = 1 << 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    pub nonce: u64,
    /// Hashes tried by all threads together.
    pub hashes: u64,
    pub elapsed: Duration,
}

/// Decimal digits of a nonce, incremented in place.
struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    fn new(mut n: u64) -> Self {
        let mut digits = [b'0'; 20];
        let mut start = 20;
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }

    fn increment(&mut self) {
        let mut i = 20;
        loop {
            i -= 1;
            if self.digits[i] == b'9' {
                self.digits[i] = b'0';
                if i == self.start {
                    self.start -= 1;
                    self.digits[self.start] = b'1';
                    return;
                }
            } else {
                self.digits[i] += 1;
                return;
            }
        }
    }
}

/// Whether `digest` starts with `bits` zero bits.
#[inline]
fn enough_zeros(digest: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    if digest[..full].iter().any(|b| *b != 0) {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || digest[full].leading_zeros() >= rest
}

/// Searches `[from, to)`; returns the first nonce that meets `bits`, and how many were tried.
fn search(prefix: &Sha256, from: u64, to: u64, bits: u32, stop: &AtomicBool) -> (Option<u64>, u64) {
    let mut d = Decimal::new(from);
    for n in from..to {
        let mut h = prefix.clone();
        h.update(d.as_bytes());
        if enough_zeros(&h.finalize(), bits) {
            return (Some(n), n - from + 1);
        }
        d.increment();
        if (n & 0x3ff) == 0 && stop.load(Ordering::Relaxed) {
            return (None, n - from + 1);
        }
    }
    (None, to - from)
}

/// Solves a challenge with `threads` threads (at least one).
pub fn solve(salt: &str, difficulty: u8, threads: usize) -> Solution {
    let started = Instant::now();
    let prefix = Sha256::new().chain_update(salt.as_bytes());
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let hashes = AtomicU64::new(0);
    let found = AtomicU64::new(u64::MAX);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let from = next.fetch_add(CHUNK, Ordering::Relaxed);
                    let (hit, tried) = search(
                        &prefix,
                        from,
                        from.saturating_add(CHUNK),
                        u32::from(difficulty),
                        &stop,
                    );
                    hashes.fetch_add(tried, Ordering::Relaxed);
                    if let Some(n) = hit {
                        found.fetch_min(n, Ordering::Relaxed);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    Solution {
        nonce: found.load(Ordering::Relaxed),
        hashes: hashes.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

/// Hashes per second over `duration` on `threads` threads, trying an impossible difficulty.
pub fn hash_rate(threads: usize, duration: Duration) -> f64 {
    let prefix = Sha256::new().chain_update(b"0123456789abcdef0123456789abcdef");
    let stop = AtomicBool::new(false);
    let next = AtomicU64::new(1_000_000_000);
    let hashes = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                while started.elapsed() < duration {
                    let from = next.fetch_add(CHUNK, Ordering::Relaxed);
                    let (_, tried) = search(&prefix, from, from + CHUNK, 256, &stop);
                    hashes.fetch_add(tried, Ordering::Relaxed);
                }
            });
        }
    });
    hashes.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_counting_matches_formatting() {
        let mut d = Decimal::new(0);
        for n in 0..20_000u64 {
            assert_eq!(d.as_bytes(), n.to_string().as_bytes());
            d.increment();
        }
        let mut big = Decimal::new(99_999_999_999);
        big.increment();
        assert_eq!(big.as_bytes(), b"100000000000");
    }

    #[test]
    fn one_thread_finds_the_published_smallest_nonce() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/pow-vectors.json")).unwrap();
        for v in vectors.as_array().unwrap() {
            let s = solve(
                v["salt"].as_str().unwrap(),
                v["difficulty"].as_u64().unwrap() as u8,
                1,
            );
            assert_eq!(s.nonce.to_string(), v["nonce"].as_str().unwrap());
        }
    }

    #[test]
    fn many_threads_find_a_nonce_the_gateway_accepts() {
        for (i, bits) in [8u8, 12, 16, 18].into_iter().enumerate() {
            let salt = format!("{:032x}", 0xfeed_0000 + i);
            let s = solve(&salt, bits, 4);
            assert!(
                gatehouse_core::rails::pow::meets_difficulty(&salt, &s.nonce.to_string(), bits),
                "{salt} {bits} {}",
                s.nonce
            );
            assert!(s.hashes >= 1);
        }
    }

    #[test]
    fn zero_bits_check_counts_bits() {
        assert!(enough_zeros(&[0, 0x0f], 12));
        assert!(!enough_zeros(&[0, 0x1f], 12));
        assert!(enough_zeros(&[0, 0], 16));
        assert!(enough_zeros(&[0x80], 0));
    }
}
