//! The amount a BOLT 11 invoice asks for, read from the invoice itself (BOLT #11, "Encoding
//! Overview" and "Human-Readable Part"), never from what a server says about it: the amount a
//! wallet pays is the one in the signed invoice.
//!
//! The invoice is a bech32 string (BIP-0173, without its 90-character limit). Its human-readable
//! part is `ln` + a currency prefix (`bc`, `tb`, `tbs`, `bcrt`) + an optional amount in bitcoin,
//! a positive decimal integer followed by an optional multiplier: `m` 10^-3, `u` 10^-6, `n`
//! 10^-9, `p` 10^-12 (whose amount must end in 0, so the result is whole millisatoshis). A reader
//! must fail an unknown prefix, a non-digit amount, an unknown multiplier and a bad checksum;
//! an invoice without an amount is one the kit never pays.

/// Longer than any invoice a wallet issues (LND caps them at 7089 characters).
const MAX_INVOICE_CHARS: usize = 8_192;
const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const CURRENCIES: &[&str] = &["bc", "tb", "tbs", "bcrt"];
const MSAT_PER_BTC: u64 = 100_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountProblem {
    /// Not a bech32 string: mixed case, no separator, a character outside the alphabet, a bad
    /// checksum, or too long.
    Malformed,
    /// Not `ln` followed by a currency BOLT 11 names.
    UnknownPrefix,
    /// No amount: the payer would choose it.
    NoAmount,
    /// An amount that is not a positive decimal integer with a known multiplier, is below a
    /// millisatoshi, or does not fit in 64 bits of millisatoshis.
    BadAmount,
}

impl std::fmt::Display for AmountProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the invoice is not a valid bech32 string",
            Self::UnknownPrefix => "the invoice's prefix names no known currency",
            Self::NoAmount => "the invoice has no amount",
            Self::BadAmount => "the invoice's amount cannot be read",
        })
    }
}

/// BIP-0173's checksum over the expanded human-readable part and the data values.
fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// The human-readable part, lowercased, of a well-formed bech32 string.
fn bech32_hrp(s: &str) -> Result<String, AmountProblem> {
    let has_lower = s.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = s.bytes().any(|b| b.is_ascii_uppercase());
    if s.len() > MAX_INVOICE_CHARS || (has_lower && has_upper) {
        return Err(AmountProblem::Malformed);
    }
    let s = s.to_ascii_lowercase();
    let sep = s.rfind('1').ok_or(AmountProblem::Malformed)?;
    let (hrp, data) = (&s[..sep], &s.as_bytes()[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 || !hrp.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(AmountProblem::Malformed);
    }
    let values = data
        .iter()
        .map(|c| CHARSET.iter().position(|x| x == c).map(|p| p as u8))
        .collect::<Option<Vec<u8>>>()
        .ok_or(AmountProblem::Malformed)?;
    let expanded = hrp
        .bytes()
        .map(|b| b >> 5)
        .chain([0])
        .chain(hrp.bytes().map(|b| b & 31));
    if polymod(expanded.chain(values)) != 1 {
        return Err(AmountProblem::Malformed);
    }
    Ok(hrp.to_string())
}

/// The invoice's amount in millisatoshis.
pub fn amount_msat(invoice: &str) -> Result<u64, AmountProblem> {
    let hrp = bech32_hrp(invoice)?;
    let rest = hrp.strip_prefix("ln").ok_or(AmountProblem::UnknownPrefix)?;
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    let (currency, amount) = rest.split_at(letters);
    if !CURRENCIES.contains(&currency) {
        return Err(AmountProblem::UnknownPrefix);
    }
    if amount.is_empty() {
        return Err(AmountProblem::NoAmount);
    }
    let (digits, multiplier) = match amount.as_bytes()[amount.len() - 1] {
        b'0'..=b'9' => (amount, None),
        m => (&amount[..amount.len() - 1], Some(m)),
    };
    // A positive integer with no leading zero (which also rules out zero itself).
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountProblem::BadAmount);
    }
    let n: u64 = digits.parse().map_err(|_| AmountProblem::BadAmount)?;
    let msat = match multiplier {
        None => n.checked_mul(MSAT_PER_BTC),
        Some(b'm') => n.checked_mul(MSAT_PER_BTC / 1_000),
        Some(b'u') => n.checked_mul(MSAT_PER_BTC / 1_000_000),
        Some(b'n') => n.checked_mul(MSAT_PER_BTC / 1_000_000_000),
        // One pico-bitcoin is a tenth of a millisatoshi.
        Some(b'p') if n.is_multiple_of(10) => Some(n / 10),
        _ => None,
    };
    msat.ok_or(AmountProblem::BadAmount)
}

#[cfg(test)]
#[path = "bolt11/tests.rs"]
mod tests;
