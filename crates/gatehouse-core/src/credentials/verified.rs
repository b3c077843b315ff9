//! A memo of credentials whose signature an isolate has already checked (RFC 7515 §5.2's
//! validation of an HS256 JWS, for API keys and access tokens), keyed by their exact presented
//! text: an agent presents the same key and token on every call, and the decode and the MAC are
//! most of what checking them costs (bench/results.md).
//!
//! What it promises, and its tests hold it to:
//! - it answers only for a text equal, byte for byte, to one whose signature checked out: it is
//!   looked up by its signing input (`header.payload`, which is no secret), and its signature
//!   compared in constant time, so that no timing of a lookup says anything about another
//!   holder's signature; any other text, a forged signature included, is checked in full;
//! - it never answers past the credential's own expiry (`until_s`);
//! - it holds at most its capacity, of texts no longer than `MAX_KEPT_LEN`.
//!
//! It replaces the signature check alone: audience, binding, lifetime and revocation are checked
//! on every presentation by the callers, as before. A memo is only as good as the key ring it
//! was filled under: the shell keeps both for the isolate's life (`platform/config.rs` reads the
//! configuration once).

use std::collections::BTreeMap;

use crate::wire::bytes::ct_eq;

/// The longest text kept: longer ones are checked every time (the JWS reader refuses far longer).
pub const MAX_KEPT_LEN: usize = 2_048;

/// Checked credentials by their signing input, with their signature and how long each may be
/// answered for. Ordered rather than hashed: a lookup is a few comparisons of texts that share
/// their JWS header, and no chosen text can make the entries it lands among many (the Wasm's std
/// hasher has fixed keys).
pub struct Verified<T> {
    /// By signing input: the signature, what the credential says, and until when.
    held: BTreeMap<String, (String, T, u64)>,
    cap: usize,
}

/// A JWS text cut at its last dot: the signing input and the signature (compact serialization,
/// RFC 7515 §7.1); `None` for a text with no dot, which is never kept.
fn split(presented: &str) -> Option<(&str, &str)> {
    presented.rsplit_once('.')
}

impl<T: Clone> Verified<T> {
    pub fn new(cap: usize) -> Self {
        Verified {
            held: BTreeMap::new(),
            cap,
        }
    }

    /// What `presented` was found to say, if it was checked before and `now_s` is before its
    /// expiry.
    pub fn get(&self, presented: &str, now_s: u64) -> Option<T> {
        let (input, signature) = split(presented)?;
        let (kept, value, until_s) = self.held.get(input)?;
        (ct_eq(kept.as_bytes(), signature.as_bytes()) && now_s < *until_s).then(|| value.clone())
    }

    /// Keeps what a credential whose signature just checked out says, until `until_s`. When the
    /// memo is full, the expired go first; if that frees less than an eighth of it, all go (the
    /// next presentations are checked in full, and kept again), so that a full memo is swept once
    /// per eighth of its size, not on every insert.
    pub fn keep(&mut self, presented: &str, value: T, until_s: u64, now_s: u64) {
        let Some((input, signature)) = split(presented) else {
            return;
        };
        if presented.len() > MAX_KEPT_LEN || until_s <= now_s || self.cap == 0 {
            return;
        }
        if self.held.len() >= self.cap && !self.held.contains_key(input) {
            self.held.retain(|_, (_, _, until)| *until > now_s);
            if self.held.len() > self.cap - self.cap.div_ceil(8) {
                self.held.clear();
            }
        }
        let entry = (signature.to_string(), value, until_s);
        self.held.insert(input.to_string(), entry);
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// Checks `presented` with `check`, or answers from the memo: what `check` says of it either
/// way. `until_s` says how long an accepted credential may be answered for.
pub fn checked<T: Clone, E>(
    memo: &mut Verified<T>,
    presented: &str,
    now_s: u64,
    check: impl FnOnce(&str) -> Result<T, E>,
    until_s: impl FnOnce(&T) -> u64,
) -> Result<T, E> {
    if let Some(known) = memo.get(presented, now_s) {
        return Ok(known);
    }
    let value = check(presented)?;
    memo.keep(presented, value.clone(), until_s(&value), now_s);
    Ok(value)
}

#[cfg(test)]
mod tests;
