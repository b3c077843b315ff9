//! What makes an MPP challenge the gateway's own with no state (draft-ryan-httpauth-payment,
//! "Challenge Binding"): its `id` is an HMAC over the parameters it was issued with, so a
//! credential that echoes them back proves they are unchanged, and nothing is stored until a
//! credential arrives. Also the two encodings the binding covers: the `request` parameter
//! (base64url, no padding, of its JSON in JCS, RFC 8785) and the RFC 3339 `expires`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::credentials::keys::KeyRing;
use crate::wire::bytes::ct_eq;

/// The challenge parameters the id binds, in the draft's order. `description` is display text
/// and not bound; absent parameters bind as empty strings.
pub struct Bound<'a> {
    pub realm: &'a str,
    pub method: &'a str,
    pub intent: &'a str,
    /// The `request` parameter as it is written in a header: base64url of the JCS JSON.
    pub request: &'a str,
    pub expires: &'a str,
    pub digest: &'a str,
    pub opaque: &'a str,
}

impl Bound<'_> {
    fn input(&self) -> String {
        [
            self.realm,
            self.method,
            self.intent,
            self.request,
            self.expires,
            self.digest,
            self.opaque,
        ]
        .join("|")
    }
}

/// A key of its own for challenge ids, derived from a token signing key, so that no MAC this
/// gateway computes for one purpose is ever valid for another.
fn id_mac(secret: &[u8]) -> Hmac<Sha256> {
    let mut derive = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    derive.update(b"gatehouse mpp challenge id v1");
    let key = derive.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&key).expect("any key length")
}

/// The id of a challenge with these parameters, under the ring's signing key.
pub fn challenge_id(keys: &KeyRing, bound: &Bound) -> String {
    let mut mac = id_mac(&keys.signer().secret);
    mac.update(bound.input().as_bytes());
    B64URL.encode(mac.finalize().into_bytes())
}

/// Whether `id` is the id of these parameters under any key of the ring (keys rotate while
/// challenges are outstanding); compared in constant time.
pub fn is_ours(keys: &KeyRing, bound: &Bound, id: &str) -> bool {
    let input = bound.input();
    keys.all().fold(false, |found, key| {
        let mut mac = id_mac(&key.secret);
        mac.update(input.as_bytes());
        let expected = B64URL.encode(mac.finalize().into_bytes());
        ct_eq(expected.as_bytes(), id.as_bytes()) | found
    })
}

/// The `digest` parameter for a body (RFC 9530 `Content-Digest` syntax, as the draft writes it).
pub fn body_digest(body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    format!("sha-256=:{b64}:")
}

/// Base64url without padding, as MPP writes its parameters, credentials and receipts.
pub fn b64url(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

/// Decodes base64url or standard base64, padded or not, as the draft's readers accept.
pub fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    let url: String = trimmed
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    B64URL.decode(url).ok()
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds, e.g. `2026-12-02T01:24:40.319Z`.
pub fn rfc3339(ms: u64) -> String {
    let (secs, milli) = (ms / 1_000, ms % 1_000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Reads an RFC 3339 time (`Z` or a numeric offset, fractional seconds optional) into ms since
/// the epoch; `None` for anything else, or a time before 1970.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't')
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut milli = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        milli = digits.parse::<u64>().ok()? * 10u64.pow(3 - digits.len() as u32);
    }
    let offset_s: i64 = match &s[i..] {
        "Z" | "z" => 0,
        off if off.len() == 6
            && matches!(off.as_bytes()[0], b'+' | b'-')
            && off.as_bytes()[3] == b':' =>
        {
            let (h, m) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let magnitude = (h * 3_600 + m * 60) as i64;
            if off.starts_with('-') {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + (hour * 3_600 + minute * 60 + second) as i64 - offset_s;
    u64::try_from(secs).ok().map(|s| s * 1_000 + milli)
}

fn days_in(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
