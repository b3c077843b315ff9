//! What the audit trail never stores. Two nets, both applied at any depth of the arguments:
//!
//! - by key: a value whose key contains (case-insensitively) one of `KEY_PATTERNS`, or one of the
//!   operator's `AUDIT_REDACT_KEYS`, is replaced whole by `[redacted]`, whatever it holds;
//! - by shape: in every other string (object keys too), spans that look like credentials are
//!   replaced by `[redacted]`: `Bearer`/`Basic`/`L402` credentials (RFC 6750 §2.1, RFC 7617,
//!   docs/PROTOCOL.md §3), JWTs (RFC 7519: base64url segments whose header starts `eyJ`, the
//!   encoding of `{"`), well-known key prefixes, and long high-entropy tokens.
//!
//! Each pass is one left-to-right scan that never looks back, so the work is linear in the text.

use std::borrow::Cow;

use serde_json::{Map, Value};

pub const MASK: &str = "[redacted]";

/// Key substrings that always hide a value, whatever the configuration says.
pub const KEY_PATTERNS: [&str; 11] = [
    "secret",
    "token",
    "pass",
    "pwd",
    "mnemonic",
    "key",
    "auth",
    "cookie",
    "credential",
    "private",
    "session",
];

/// Extra key patterns when `AUDIT_REDACT_KEYS` is unset: none, `KEY_PATTERNS` already cover the
/// usual names.
pub const DEFAULT_REDACT_KEYS: &str = "";

/// HTTP authentication schemes whose credential follows a space.
const SCHEMES: [&str; 3] = ["bearer", "basic", "l402"];
/// Credential-looking text after a scheme: at least this long, and not all lowercase letters (so
/// "Basic authentication" is left alone).
const MIN_SCHEME_CREDENTIAL: usize = 8;

/// Vendor prefixes of API keys (OpenAI, Stripe, GitHub, GitLab, Slack, AWS, Google, npm, PyPI,
/// Hugging Face), matched case-sensitively at the start of a word.
const KEY_PREFIXES: [&str; 20] = [
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xox",
    "xapp-",
    "AKIA",
    "ASIA",
    "AIza",
    "npm_",
    "pypi-",
    "hf_",
    "whsec_",
];
/// A prefix only counts when this many token characters follow it ("sk-learn" is not a key).
const MIN_PREFIXED_TAIL: usize = 12;

/// A run of token characters at least this long with two of lowercase, uppercase and digits and
/// at least this much Shannon entropy per character is taken for a secret (API keys, hex
/// digests, base64 blobs). Long identifiers with digits are caught too; that is the price.
pub const MIN_ENTROPY_RUN: usize = 32;
const MIN_BITS_PER_CHAR: f64 = 3.0;

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_url64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_token(b: u8) -> bool {
    is_url64(b) || b == b'+' || b == b'/' || b == b'='
}

fn is_credential(b: u8) -> bool {
    is_token(b) || b == b'.' || b == b'~' || b == b':'
}

/// Whether a key names something secret: a built-in pattern or an operator's extra one.
pub fn is_secret_key(key: &str, extra: &[String]) -> bool {
    let key = key.to_ascii_lowercase();
    KEY_PATTERNS.iter().any(|p| key.contains(p))
        || extra
            .iter()
            .filter(|p| !p.is_empty())
            .any(|p| key.contains(&p.to_ascii_lowercase()))
}

/// The arguments with secret keys' values hidden and secret-looking spans masked.
pub fn redact(v: &Value, extra_keys: &[String]) -> Value {
    match v {
        Value::Object(map) => {
            // Inserted one by one (two keys masked alike: the later value wins, as `collect`
            // would have it), which spares the Wasm a sort of its own for this map.
            let mut out = Map::new();
            for (k, v) in map {
                let value = if is_secret_key(k, extra_keys) {
                    Value::String(MASK.into())
                } else {
                    redact(v, extra_keys)
                };
                out.insert(mask_secrets(k), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| redact(i, extra_keys)).collect()),
        Value::String(s) => match embedded_json(s) {
            // JSON carried as a string (a serialized config, a request body) is redacted as JSON.
            Some(inner) => Value::String(redact(&inner, extra_keys).to_string()),
            None => Value::String(mask_secrets(s)),
        },
        other => other.clone(),
    }
}

/// Strings longer than this are not tried as embedded JSON: the audit keeps 512 bytes anyway.
const MAX_EMBEDDED_JSON: usize = 64 * 1024;

fn embedded_json(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if s.len() > MAX_EMBEDDED_JSON || !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_slice(s.as_bytes()).ok()
}

/// `text` with every credential-looking span replaced by `[redacted]`.
pub fn mask_secrets(text: &str) -> String {
    const PASSES: [Matcher; 6] = [
        url_password,
        secret_parameter,
        scheme_credential,
        jwt,
        prefixed_key,
        high_entropy,
    ];
    // Most text holds no secret: a pass that masks nothing hands back what it was given, so an
    // audited argument costs one copy, not one per pass.
    let mut masked = Cow::Borrowed(text);
    for matcher in PASSES {
        if let Cow::Owned(next) = scan(&masked, matcher) {
            masked = Cow::Owned(next);
        }
    }
    masked.into_owned()
}

/// A match: the span `[start, end)` of the text to replace, keeping `text[at..start]`.
type Matcher = fn(&[u8], usize) -> Option<(usize, usize)>;

/// Runs `matcher` at every position; on a match, masks the span and resumes after it; on a
/// miss, the matcher may say how far it looked, and the scan skips that far. Borrows `text`
/// back when nothing matched.
fn scan(text: &str, matcher: Matcher) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, 0);
    while i < b.len() {
        match matcher(b, i) {
            Some((start, end)) if end > start => {
                // Matches begin and end on ASCII bytes, so these are character boundaries.
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..start]);
                out.push_str(MASK);
                copied = end;
                i = end;
            }
            Some((_, skip)) => i = skip.max(i + 1),
            None => i += 1,
        }
    }
    match out {
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(text),
    }
}

fn run_end(b: &[u8], from: usize, class: fn(u8) -> bool) -> usize {
    b[from..]
        .iter()
        .position(|c| !class(*c))
        .map_or(b.len(), |n| from + n)
}

fn starts_run(b: &[u8], at: usize, class: fn(u8) -> bool) -> bool {
    at == 0 || !class(b[at - 1])
}

/// The password of a URL's user information: `scheme://user:<password>@host`.
fn url_password(b: &[u8], at: usize) -> Option<(usize, usize)> {
    if !b[at..].starts_with(b"://") {
        return None;
    }
    let from = at + 3;
    let authority_end = b[from..]
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#' | b' ' | b'"'))
        .map_or(b.len(), |n| from + n);
    let at_sign = b[from..authority_end].iter().rposition(|c| *c == b'@')? + from;
    let colon = b[from..at_sign].iter().position(|c| *c == b':')? + from;
    Some((colon + 1, at_sign))
}

/// `name=value` in a query string or form body (`?apikey=…`, `&password=…`) whose name is a
/// secret one: the value is masked up to the next separator.
fn secret_parameter(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let after_separator = at == 0 || matches!(b[at - 1], b'?' | b'&' | b';' | b' ' | b'\n');
    if !after_separator {
        return None;
    }
    let name_end = run_end(b, at, |c| {
        c.is_ascii_alphanumeric() || b"_.-[]".contains(&c)
    });
    if name_end == at || b.get(name_end) != Some(&b'=') {
        return None;
    }
    let name = std::str::from_utf8(&b[at..name_end]).ok()?;
    if !is_secret_key(name, &[]) {
        return Some((name_end, name_end));
    }
    let start = name_end + 1;
    let end = b[start..]
        .iter()
        .position(|c| matches!(c, b'&' | b';' | b' ' | b'#' | b'"' | b'\n'))
        .map_or(b.len(), |n| start + n);
    Some((start, end))
}

/// `Bearer <credential>`, `Basic <credential>`, `L402 <credential>`: the credential is masked.
/// The space may be URL-encoded (`Bearer%20…`).
fn scheme_credential(b: &[u8], at: usize) -> Option<(usize, usize)> {
    if !starts_run(b, at, is_word) {
        return None;
    }
    let scheme = SCHEMES.iter().find(|s| {
        b.len() > at + s.len() && b[at..at + s.len()].eq_ignore_ascii_case(s.as_bytes())
    })?;
    let mut start = at + scheme.len();
    let space = |i: usize| -> usize {
        match b.get(i) {
            Some(b' ' | b'\t' | b'+') => 1,
            Some(b'%') if b.get(i + 1..i + 3) == Some(b"20") => 3,
            _ => 0,
        }
    };
    if space(start) == 0 {
        return None;
    }
    while space(start) > 0 {
        start += space(start);
    }
    let end = run_end(b, start, is_credential);
    let credential = &b[start..end];
    let looks_secret =
        credential.len() >= MIN_SCHEME_CREDENTIAL && !credential.iter().all(u8::is_ascii_lowercase);
    looks_secret.then_some((start, end))
}

/// A compact JWS or JWE: a run of base64url segments and dots, starting `eyJ`, with two or more
/// dots. A run that fails is skipped whole: no later start inside it can have more dots.
fn jwt(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let class = |c: u8| is_url64(c) || c == b'.';
    if !starts_run(b, at, class) {
        return None;
    }
    let end = run_end(b, at, class);
    let run = &b[at..end];
    let found = run.starts_with(b"eyJ") && run.iter().filter(|c| **c == b'.').count() >= 2;
    Some(if found { (at, end) } else { (end, end) })
}

/// A vendor-prefixed key at the start of a word.
fn prefixed_key(b: &[u8], at: usize) -> Option<(usize, usize)> {
    if !starts_run(b, at, is_word) {
        return None;
    }
    let prefix = KEY_PREFIXES
        .iter()
        .find(|p| b[at..].starts_with(p.as_bytes()))?;
    let end = run_end(b, at + prefix.len(), is_url64);
    (end - at - prefix.len() >= MIN_PREFIXED_TAIL).then_some((at, end))
}

/// A long run of token characters, mixed in kind and high in entropy.
fn high_entropy(b: &[u8], at: usize) -> Option<(usize, usize)> {
    if !starts_run(b, at, is_token) {
        return None;
    }
    let end = run_end(b, at, is_token);
    Some(if looks_random(&b[at..end]) {
        (at, end)
    } else {
        (end, end)
    })
}

pub(super) fn looks_random(run: &[u8]) -> bool {
    if run.len() < MIN_ENTROPY_RUN {
        return false;
    }
    let kinds = [
        run.iter().any(u8::is_ascii_lowercase),
        run.iter().any(u8::is_ascii_uppercase),
        run.iter().any(u8::is_ascii_digit),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return false;
    }
    let mut counts = [0u32; 256];
    for c in run {
        counts[usize::from(*c)] += 1;
    }
    let n = run.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum();
    bits >= MIN_BITS_PER_CHAR
}
