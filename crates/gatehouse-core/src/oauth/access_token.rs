//! Access tokens as JWTs (RFC 9068 profile, RFC 7519 claims), checked for the MCP authorization
//! spec: the signature (by the shell, with the key `kid` names), then `iss`, `aud` equal to this
//! resource (RFC 8707; a token for anyone else is refused, which is what stops token
//! passthrough and confused deputies), `exp`/`nbf` with a small leeway, and `scope`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde_json::Value;

use super::jwk::Alg;
use super::settings::OAuthSettings;

pub const MAX_ACCESS_TOKEN_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    UnsupportedAlgorithm,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
}

impl Rejection {
    /// The operator's reason; the client is told `invalid_token` and a generic description.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Self::Expired => "The access token expired",
            Self::WrongAudience => "The access token is not for this resource",
            _ => "The access token is invalid",
        }
    }
}

/// A compact JWS split into what the signature check needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    pub alg: Alg,
    pub kid: String,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    pub claims: Value,
}

pub fn parse(token: &str) -> Result<Parsed<'_>, Rejection> {
    if token.len() > MAX_ACCESS_TOKEN_LEN {
        return Err(Rejection::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let json = |part: &str| -> Result<Value, Rejection> {
        let raw = B64URL.decode(part).map_err(|_| Rejection::Malformed)?;
        serde_json::from_slice(&raw).map_err(|_| Rejection::Malformed)
    };
    let header = json(head)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(Rejection::Malformed)?;
    let alg = Alg::parse(alg).ok_or(Rejection::UnsupportedAlgorithm)?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Rejection::UnknownKey)?
        .to_string();
    let claims = json(body)?;
    if !claims.is_object() {
        return Err(Rejection::Malformed);
    }
    let signature = B64URL.decode(sig).map_err(|_| Rejection::Malformed)?;
    if alg == Alg::Es256 && signature.len() != 64 {
        return Err(Rejection::Malformed);
    }
    Ok(Parsed {
        alg,
        kid,
        signing_input: &token[..head.len() + 1 + body.len()],
        signature,
        claims,
    })
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    pub tier: String,
    pub expires_at_s: u64,
}

impl Identity {
    /// The rate key: the subject, so one identity has one quota across addresses.
    pub fn rate_key(&self) -> String {
        format!("sub:{}", self.subject)
    }

    /// Scopes in `needed` this identity lacks.
    pub fn missing<'a>(&self, needed: &'a [String]) -> Vec<&'a String> {
        needed.iter().filter(|s| !self.scopes.contains(s)).collect()
    }
}

/// Checks the claims of a token whose signature already verified.
pub fn check_claims(
    settings: &OAuthSettings,
    claims: &Value,
    now_s: u64,
) -> Result<Identity, Rejection> {
    let s = |name: &str| claims.get(name).and_then(Value::as_str);
    let n = |name: &str| claims.get(name).and_then(Value::as_u64);
    if s("iss") != Some(settings.issuer.as_str()) {
        return Err(Rejection::WrongIssuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == &settings.resource,
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(settings.resource.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(Rejection::WrongAudience);
    }
    let exp = n("exp").ok_or(Rejection::Malformed)?;
    if now_s >= exp.saturating_add(settings.leeway_s) {
        return Err(Rejection::Expired);
    }
    if n("nbf").is_some_and(|nbf| nbf > now_s + settings.leeway_s) {
        return Err(Rejection::NotYetValid);
    }
    let client_id = s("client_id").or_else(|| s("azp")).map(str::to_string);
    let subject = s("sub")
        .map(str::to_string)
        .or_else(|| client_id.clone())
        .ok_or(Rejection::Malformed)?;
    // `scope` is a space-separated string (RFC 9068 §2.2.3); some servers send `scp` as a list.
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(list)), _) => list
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        (_, Some(Value::Array(list))) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Identity {
        tier: tier_of(settings, claims, client_id.as_deref()),
        subject,
        client_id,
        scopes,
        expires_at_s: exp,
    })
}

fn tier_of(settings: &OAuthSettings, claims: &Value, client_id: Option<&str>) -> String {
    let known = |name: &str| settings.tiers.iter().any(|t| t.name == name);
    if let Some(claimed) = claims
        .get(&settings.tier_claim)
        .and_then(Value::as_str)
        .filter(|t| known(t))
    {
        return claimed.to_string();
    }
    client_id
        .and_then(|id| settings.client_tiers.iter().find(|(c, _)| c == id))
        .map(|(_, tier)| tier.clone())
        .unwrap_or_else(|| settings.tiers[0].name.clone())
}

#[cfg(test)]
mod tests;
