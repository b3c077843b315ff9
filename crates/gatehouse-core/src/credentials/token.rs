//! The access token a solved challenge buys: a JWT (RFC 7519) signed HS256, carried in
//! `x-access-token`, checked in the isolate with no I/O.
//!
//! It is bound to the caller by `bnd`, a hash of the fingerprint parts the operator chose
//! (user agent, client key, client address), and it grants a bounded number of requests (`grant`)
//! rather than unlimited use for its lifetime.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::credentials::jwt::{self, JwtError};
use crate::credentials::keys::KeyRing;
use crate::credentials::verified::{self, Verified};
use crate::mcp::Call;
use crate::wire::bytes::ct_eq;

/// Which parts of a request the token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub user_agent: bool,
    pub client_key: bool,
    pub ip: bool,
}

impl Binding {
    /// Parses `user_agent,client_key[,ip]`; on failure returns the unknown part.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut b = Binding {
            user_agent: false,
            client_key: false,
            ip: false,
        };
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "user_agent" => b.user_agent = true,
                "client_key" => b.client_key = true,
                "ip" => b.ip = true,
                other => return Err(other.to_string()),
            }
        }
        Ok(b)
    }
}

/// How tokens are minted: `TOKEN_TTL_SECONDS`, `TOKEN_GRANT_REQUESTS`, `TOKEN_BINDING`,
/// `TOKEN_SIGNING_KEYS` and `TOKEN_ISSUER`, as `config` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub ttl_s: u32,
    pub grant: u32,
    pub binding: Binding,
    pub keys: KeyRing,
    pub issuer: String,
}

/// What a client with a time budget too tight for every offer may get instead: an easier proof
/// of work (never below `POW_MIN_BITS`) buying a longer-lived token that admits only these
/// methods, and `tools/call` of only these tools. `None`: no such fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetFallback {
    pub tools: Vec<String>,
    pub methods: Vec<String>,
    pub ttl_s: u32,
}

/// Methods a reduced grant admits besides its tools: what a client needs to reach them.
pub const DEFAULT_REDUCED_METHODS: &str = "initialize,notifications/initialized,ping,tools/list";

/// The request facts a binding may draw on.
#[derive(Debug, Clone, Copy)]
pub struct Fingerprint<'a> {
    pub user_agent: &'a str,
    pub client_key: &'a str,
    pub ip: &'a str,
}

/// base64url(SHA-256) over the chosen parts, each length-prefixed so that no two different
/// fingerprints can produce the same input.
pub fn binding_hash(binding: Binding, fp: Fingerprint) -> String {
    let mut h = Sha256::new();
    h.update(b"gatehouse-binding-v1");
    for (on, value) in [
        (binding.user_agent, fp.user_agent),
        (binding.client_key, fp.client_key),
        (binding.ip, fp.ip),
    ] {
        let value = if on { value } else { "" };
        h.update((value.len() as u64).to_be_bytes());
        h.update(value.as_bytes());
    }
    B64URL.encode(h.finalize())
}

/// How the token was bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Pow,
    L402,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The client key the token was issued to.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub bnd: String,
    /// Requests this token admits past the quota.
    pub grant: u32,
    pub via: Via,
    /// A reduced grant (bought under a tight time budget) admits calls of these tools only...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// ...and of these other methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// The route whose challenge bought it: a grant pays past that route's quota only, never
    /// another's (which may ask a higher price, or none at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

impl AccessClaims {
    /// Whether the token may pay on `route`: the one it was bought on. A token from before
    /// tokens named their route pays only where there is one route to pay on.
    pub fn pays_on(&self, route: &str, only_route: bool) -> Result<(), TokenRejection> {
        match &self.route {
            Some(r) if r == route => Ok(()),
            None if only_route => Ok(()),
            _ => Err(TokenRejection::WrongRoute),
        }
    }

    /// Whether the grant covers every call of the request. A full grant covers anything; a
    /// reduced grant is an explicit allow-list: each call must be one of its methods, or
    /// `tools/call` of one of its tools, and a request with no call at all (a stream `GET`, a
    /// session `DELETE`) is not on it. Responses to the server's own requests carry no method and
    /// call nothing, so they pass.
    pub fn permits(&self, calls: &[Call]) -> bool {
        let Some(tools) = &self.tools else {
            return true;
        };
        let methods = self.methods.as_deref().unwrap_or_default();
        !calls.is_empty()
            && calls.iter().all(|c| {
                c.method.is_empty()
                    || methods.contains(&c.method)
                    || (c.method == "tools/call"
                        && c.name
                            .as_deref()
                            .is_some_and(|n| tools.iter().any(|t| t == n)))
            })
    }
}

/// Why a presented token was refused. All of them answer `401 invalid_or_expired_token` on the
/// wire; the reason goes to logs and metrics only, so a prober learns nothing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    IssuedInFuture,
    WrongBinding,
    /// Bought on another route.
    WrongRoute,
    Revoked,
}

impl TokenRejection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongBinding => "wrong_binding",
            Self::WrongRoute => "wrong_route",
            Self::Revoked => "revoked",
        }
    }
}

impl From<JwtError> for TokenRejection {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::Malformed | JwtError::UnsupportedAlgorithm => Self::Malformed,
            JwtError::UnknownKey => Self::UnknownKey,
            JwtError::BadSignature => Self::BadSignature,
        }
    }
}

/// Clock skew tolerated between isolates for `iat`.
const LEEWAY_S: u64 = 5;

pub struct Issue<'a> {
    pub audience: &'a str,
    pub subject: &'a str,
    pub binding_hash: String,
    pub jti: String,
    pub via: Via,
    pub now_s: u64,
    /// Issue the reduced grant: this lifetime, these tools.
    pub reduced: Option<&'a BudgetFallback>,
    /// The route the challenge was offered on (`None` for a challenge from before routes were
    /// recorded: such a token pays only where there is one route).
    pub route: Option<&'a str>,
}

pub fn issue(settings: &TokenSettings, req: Issue) -> (String, AccessClaims) {
    let claims = AccessClaims {
        iss: settings.issuer.clone(),
        aud: req.audience.to_string(),
        sub: req.subject.to_string(),
        iat: req.now_s,
        exp: req.now_s + u64::from(req.reduced.map_or(settings.ttl_s, |r| r.ttl_s)),
        jti: req.jti,
        bnd: req.binding_hash,
        grant: settings.grant,
        via: req.via,
        tools: req.reduced.map(|r| r.tools.clone()),
        methods: req.reduced.map(|r| r.methods.clone()),
        route: req.route.map(str::to_string),
    };
    (jwt::sign(&claims, settings.keys.signer()), claims)
}

/// Verifies signature, issuer, audience, lifetime and binding. Pure and I/O-free; revocation and
/// usage are the caller's, since they need state shared across isolates.
pub fn check(
    settings: &TokenSettings,
    token: &str,
    audience: &str,
    expected_binding: &str,
    now_s: u64,
) -> Result<AccessClaims, TokenRejection> {
    let claims: AccessClaims = jwt::verify(token, &settings.keys)?;
    check_claims(settings, claims, audience, expected_binding, now_s)
}

/// [`check`], with the signature's check answered from `memo` for a token whose signature this
/// isolate already checked (`verified.rs`); everything else is checked every time.
pub fn check_remembered(
    settings: &TokenSettings,
    memo: &mut Verified<AccessClaims>,
    token: &str,
    audience: &str,
    expected_binding: &str,
    now_s: u64,
) -> Result<AccessClaims, TokenRejection> {
    let signed = |t: &str| jwt::verify::<AccessClaims>(t, &settings.keys);
    let claims = verified::checked(memo, token, now_s, signed, |c| c.exp)?;
    check_claims(settings, claims, audience, expected_binding, now_s)
}

fn check_claims(
    settings: &TokenSettings,
    claims: AccessClaims,
    audience: &str,
    expected_binding: &str,
    now_s: u64,
) -> Result<AccessClaims, TokenRejection> {
    if claims.iss != settings.issuer {
        return Err(TokenRejection::WrongIssuer);
    }
    if claims.aud != audience {
        return Err(TokenRejection::WrongAudience);
    }
    if now_s >= claims.exp {
        return Err(TokenRejection::Expired);
    }
    if claims.iat > now_s + LEEWAY_S {
        return Err(TokenRejection::IssuedInFuture);
    }
    if !ct_eq(claims.bnd.as_bytes(), expected_binding.as_bytes()) {
        return Err(TokenRejection::WrongBinding);
    }
    Ok(claims)
}

#[cfg(test)]
pub(crate) mod tests;
