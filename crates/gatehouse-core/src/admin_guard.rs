//! Which admin requests a browser may have been tricked into sending, and the headers that keep
//! the dashboard out of other sites' frames.
//!
//! The admin API accepts the secret as HTTP Basic, which a browser caches and attaches to any
//! request to the gateway, including one a page on another site makes it send (a form posting
//! `text/plain`). So a state-changing request (any method but `GET`/`HEAD`, RFC 9110 §9.2.1) is
//! accepted only when:
//! - its body is `application/json`, which no form can send and which another origin's script can
//!   send only after a CORS preflight the gateway never answers (Fetch §4.8, "CORS-safelisted
//!   request-header": a JSON content type is not safelisted), and
//! - the browser does not say it came from elsewhere: `Sec-Fetch-Site` (Fetch Metadata, W3C), when
//!   present, is `same-origin` or `none` (the user's own action), and `Origin` (RFC 6454 §7), when
//!   present, is the gateway's own.
//!
//! Callers that are not browsers (curl, scripts) send neither header and pass on the media type
//! alone. Framing is refused with CSP `frame-ancestors 'none'` (CSP Level 3) and, for browsers
//! without it, `X-Frame-Options: DENY` (RFC 7034).

use crate::metering::quota::{Check, Policy, Window};
use crate::wire::denial::Denial;

/// Failed admin authentications an address may make in a minute; past it, every attempt from
/// there gets `429` without its secret being looked at, the right one included.
pub const FAILURES_PER_ADDRESS: u32 = 10;
/// The same for all addresses together, so that guessing from many addresses is throttled too
/// (at the price that such a flood also holds the operator off for its minute).
pub const FAILURES_IN_TOTAL: u32 = 100;
/// The counter object of all addresses' failures together.
pub const ALL_ADDRESSES: &str = "admin-fail:*";

/// The counter object of one address's failed admin authentications.
pub fn failure_counter(address_key: &str) -> String {
    format!("admin-fail:{address_key}")
}

/// The check of one failure counter, with its limit: `record` charges a failure (refused past
/// the limit); otherwise it asks, charging nothing, whether the counter is already at its limit.
pub fn failure_check(limit: u32, record: bool) -> Check {
    // A check that charges nothing fits while the count is at most its quota: asking at one
    // under the limit says whether one more failure would still fit.
    let (quota, cost) = if record { (limit, 1) } else { (limit - 1, 0) };
    let window = Window::new("minute", quota.max(1), 60);
    Check {
        counter: "admin_auth_failures".into(),
        policy: Policy::new(window.into_iter().collect()).unwrap_or_else(|| unreachable!()),
        cost,
    }
}

/// The least strength an `ADMIN_SECRET` may have: past it, guessing is hopeless even unthrottled.
pub const MIN_ADMIN_SECRET_BITS: f64 = 128.0;

/// A secret's strength as its length times the bits of the smallest common alphabet its
/// characters come from (digits, hex, lowercase and digits, base64 or base64url, printable
/// ASCII). A secret of fewer than eight distinct characters counts as that many symbols, a
/// repeating one only its period, and one with a character over a quarter of it no more than its
/// letter frequencies hold: `aaaa…`, `abab…` and `aaaa…xyz` are no stronger for being long.
pub fn secret_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    let all = |f: fn(char) -> bool| chars.iter().all(|c| f(*c));
    let alphabet: f64 = if all(|c| c.is_ascii_digit()) {
        10.0
    } else if all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        || all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
    {
        16.0
    } else if all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        36.0
    } else if all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c)) {
        64.0
    } else {
        95.0
    };
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let counts: Vec<usize> = distinct
        .iter()
        .map(|d| chars.iter().filter(|c| *c == d).count())
        .collect();
    let n = chars.len() as f64;
    let symbols = if distinct.len() < 8 {
        (distinct.len() as f64).max(1.0)
    } else {
        alphabet
    };
    let by_alphabet = period(&chars) as f64 * symbols.log2();
    // One character over a quarter of the text: count what the text's own letter frequencies
    // say it holds (Shannon), which a random secret of any usual length never falls under.
    if counts.iter().any(|c| c * 4 > chars.len()) {
        let shannon: f64 = counts
            .iter()
            .map(|&c| c as f64 * (n / c as f64).log2())
            .sum();
        return by_alphabet.min(shannon);
    }
    by_alphabet
}

/// The smallest `p` such that the text repeats itself every `p` characters (its length when it
/// does not), by the prefix function of Knuth, Morris and Pratt.
fn period(chars: &[char]) -> usize {
    let mut border = vec![0usize; chars.len()];
    for i in 1..chars.len() {
        let mut k = border[i - 1];
        while k > 0 && chars[i] != chars[k] {
            k = border[k - 1];
        }
        if chars[i] == chars[k] {
            k += 1;
        }
        border[i] = k;
    }
    chars.len() - border.last().copied().unwrap_or(0)
}

/// The only media type the admin API reads.
pub const JSON: &str = "application/json";

/// What the guard looks at in an admin request; header values as received, if present.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdminRequest<'a> {
    pub method: &'a str,
    pub content_type: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
    pub origin: Option<&'a str>,
    /// The gateway's own origin as the request addressed it: `scheme://host[:port]`.
    pub own_origin: &'a str,
}

/// Why a request was refused; each maps to its `Denial`, which has the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Sec-Fetch-Site` says another site (or an unknown value) sent it: 403.
    CrossSite,
    /// `Origin` names another origin: 403.
    ForeignOrigin,
    /// The body is not `application/json`: 415.
    NotJson,
}

impl From<Refusal> for Denial {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::CrossSite => Denial::CrossOrigin {
                reason: "sec_fetch_site",
            },
            Refusal::ForeignOrigin => Denial::CrossOrigin { reason: "origin" },
            Refusal::NotJson => Denial::UnsupportedMediaType { accept: JSON },
        }
    }
}

/// Whether the request may go on to authentication and its handler.
pub fn check(req: &AdminRequest) -> Result<(), Refusal> {
    if matches!(req.method.to_ascii_uppercase().as_str(), "GET" | "HEAD") {
        return Ok(());
    }
    if let Some(site) = req.sec_fetch_site {
        let site = site.trim();
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return Err(Refusal::CrossSite);
        }
    }
    if req.origin.is_some_and(|o| !same_origin(o, req.own_origin)) {
        return Err(Refusal::ForeignOrigin);
    }
    if !req.content_type.is_some_and(is_json) {
        return Err(Refusal::NotJson);
    }
    Ok(())
}

/// `application/json`, with or without parameters (`; charset=utf-8`); type names are
/// case-insensitive (RFC 9110 §8.3.1).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(JSON)
}

/// Two serialized origins are the same: scheme and host compare case-insensitively, and a default
/// port may be written or left out. `null` (an opaque origin) matches nothing.
fn same_origin(a: &str, b: &str) -> bool {
    match (normalize(a), normalize(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn normalize(origin: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
        return None;
    }
    // The port is what follows the last colon outside an IPv6 literal's brackets.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (rest, default_port),
    };
    Some((scheme, host.to_ascii_lowercase(), port))
}

/// For browsers without CSP `frame-ancestors`: no page may frame this response.
pub const X_FRAME_OPTIONS: (&str, &str) = ("x-frame-options", "DENY");

/// The response's Content-Security-Policy with `frame-ancestors 'none'` in it: added to the
/// policy the response already has, or the whole policy if it has none. A policy that already
/// names frame ancestors has them replaced, since a response may carry only one such directive
/// that counts (CSP3 §2.3: a repeated directive is ignored).
pub fn with_frame_ancestors_none(existing: Option<&str>) -> String {
    let mut directives: Vec<&str> = existing
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let name = d.split_ascii_whitespace().next().unwrap_or("");
            !name.eq_ignore_ascii_case("frame-ancestors")
        })
        .collect();
    directives.push("frame-ancestors 'none'");
    directives.join("; ")
}

#[cfg(test)]
mod tests;
