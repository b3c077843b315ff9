//! Macaroons (Birgisson et al., "Macaroons: Cookies with Contextual Caveats") in libmacaroons'
//! V2 binary format, first-party caveats only: what L402 clients decode and what aperture mints.
//!
//! Format: `0x02`, then fields `type varint | length varint | bytes`: an optional location (1),
//! the identifier (2), end-of-section (0); per caveat an identifier (2) and end-of-section; a final
//! end-of-section; the signature (6, 32 bytes).
//!
//! Chain: `sig0 = HMAC-SHA256(derive(root_key), identifier)`, then `sig = HMAC-SHA256(sig,
//! caveat)` per caveat, where `derive(k) = HMAC-SHA256("macaroons-key-generator", k)` as in
//! libmacaroons, go-macaroon and pymacaroons.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::wire::bytes::ct_eq;

const VERSION: u8 = 2;
const EOS: u8 = 0;
const LOCATION: u8 = 1;
const IDENTIFIER: u8 = 2;
const VID: u8 = 4;
const SIGNATURE: u8 = 6;
const KEY_GENERATOR: &[u8] = b"macaroons-key-generator";
/// Far above any macaroon this gateway mints; refuses hostile inputs before parsing.
pub const MAX_MACAROON_BYTES: usize = 4_096;
const MAX_CAVEATS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macaroon {
    pub location: Vec<u8>,
    pub identifier: Vec<u8>,
    pub caveats: Vec<Vec<u8>>,
    pub signature: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacaroonError {
    Malformed,
    ThirdPartyCaveat,
    TooLarge,
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

fn chain(root_key: &[u8], identifier: &[u8], caveats: &[Vec<u8>]) -> [u8; 32] {
    let mut sig = hmac(&hmac(KEY_GENERATOR, root_key), identifier);
    for c in caveats {
        sig = hmac(&sig, c);
    }
    sig
}

impl Macaroon {
    pub fn mint(
        root_key: &[u8],
        identifier: Vec<u8>,
        location: &str,
        caveats: Vec<Vec<u8>>,
    ) -> Self {
        let signature = chain(root_key, &identifier, &caveats);
        Self {
            location: location.as_bytes().to_vec(),
            identifier,
            caveats,
            signature,
        }
    }

    /// Recomputes the chain under `root_key` and compares in constant time.
    pub fn verify_signature(&self, root_key: &[u8]) -> bool {
        ct_eq(
            &chain(root_key, &self.identifier, &self.caveats),
            &self.signature,
        )
    }

    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        if !self.location.is_empty() {
            field(&mut out, LOCATION, &self.location);
        }
        field(&mut out, IDENTIFIER, &self.identifier);
        out.push(EOS);
        for c in &self.caveats {
            field(&mut out, IDENTIFIER, c);
            out.push(EOS);
        }
        out.push(EOS);
        field(&mut out, SIGNATURE, &self.signature);
        out
    }

    pub fn from_binary(raw: &[u8]) -> Result<Self, MacaroonError> {
        if raw.len() > MAX_MACAROON_BYTES {
            return Err(MacaroonError::TooLarge);
        }
        let mut r = Reader { raw, pos: 0 };
        if r.byte()? != VERSION {
            return Err(MacaroonError::Malformed);
        }
        let mut location = Vec::new();
        let mut next = r.field()?;
        if next.0 == LOCATION {
            location = next.1.to_vec();
            next = r.field()?;
        }
        if next.0 != IDENTIFIER {
            return Err(MacaroonError::Malformed);
        }
        let identifier = next.1.to_vec();
        r.expect_eos()?;
        let mut caveats = Vec::new();
        loop {
            let (kind, data) = r.field_or_eos()?;
            match kind {
                EOS => break,
                LOCATION | VID => return Err(MacaroonError::ThirdPartyCaveat),
                IDENTIFIER => {
                    // A caveat section may carry a location and verification id only when it is a
                    // third-party caveat, which this gateway never mints.
                    match r.field_or_eos()?.0 {
                        EOS => {}
                        VID | LOCATION => return Err(MacaroonError::ThirdPartyCaveat),
                        _ => return Err(MacaroonError::Malformed),
                    }
                    if caveats.len() == MAX_CAVEATS {
                        return Err(MacaroonError::TooLarge);
                    }
                    caveats.push(data.to_vec());
                }
                _ => return Err(MacaroonError::Malformed),
            }
        }
        let (kind, sig) = r.field()?;
        if kind != SIGNATURE || sig.len() != 32 || r.pos != raw.len() {
            return Err(MacaroonError::Malformed);
        }
        let mut signature = [0u8; 32];
        signature.copy_from_slice(sig);
        Ok(Self {
            location,
            identifier,
            caveats,
            signature,
        })
    }
}

fn field(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    out.push(kind);
    let mut n = data.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(data);
}

struct Reader<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, MacaroonError> {
        let b = *self.raw.get(self.pos).ok_or(MacaroonError::Malformed)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, MacaroonError> {
        let mut value = 0usize;
        for shift in (0..28).step_by(7) {
            let b = self.byte()?;
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(MacaroonError::Malformed)
    }

    fn field_or_eos(&mut self) -> Result<(u8, &'a [u8]), MacaroonError> {
        let kind = self.byte()?;
        if kind == EOS {
            return Ok((EOS, &[]));
        }
        let len = self.varint()?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.raw.len())
            .ok_or(MacaroonError::Malformed)?;
        let data = &self.raw[self.pos..end];
        self.pos = end;
        Ok((kind, data))
    }

    fn field(&mut self) -> Result<(u8, &'a [u8]), MacaroonError> {
        match self.field_or_eos()? {
            (EOS, _) => Err(MacaroonError::Malformed),
            f => Ok(f),
        }
    }

    fn expect_eos(&mut self) -> Result<(), MacaroonError> {
        (self.byte()? == EOS)
            .then_some(())
            .ok_or(MacaroonError::Malformed)
    }
}

#[cfg(test)]
mod tests;
