//! Who is calling, per the MCP authorization spec: an OAuth bearer token checked for signature
//! (`oauth_keys`), issuer, audience, lifetime and scope (`gatehouse_core::oauth`), and whether its
//! scopes cover the tools this request calls. Refusals carry the spec's `WWW-Authenticate` forms.

use gatehouse_core::oauth::access_token::{check_claims, parse, Identity, Rejection};
use gatehouse_core::oauth::challenge::{insufficient_scope, unauthorized};
use gatehouse_core::oauth::settings::{Mode, OAuthSettings};
use gatehouse_core::wire::denial::{Denial, Dependency};

use worker::Env;

use crate::platform::oauth_keys::{verify_signature, KeyFailure};
use crate::stores::runtime;

/// The bearer token in an `Authorization` value, if that is its scheme (RFC 6750 §2.1).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `Ok(None)` is an anonymous caller, which only `optional` mode admits.
pub async fn authenticate(
    env: &Env,
    o: &OAuthSettings,
    local_dev: bool,
    token: Option<&str>,
    now_ms: u64,
) -> Result<Option<Identity>, Denial> {
    let Some(token) = token else {
        return match o.mode {
            Mode::Required => Err(Denial::OAuthUnauthorized {
                www_authenticate: unauthorized(o, &o.required_scopes, None),
                reason: None,
            }),
            _ => Ok(None),
        };
    };
    let refuse = |r: Rejection| Denial::OAuthUnauthorized {
        www_authenticate: unauthorized(o, &o.required_scopes, Some(r.description())),
        reason: Some(r.as_str()),
    };
    let parsed = parse(token).map_err(refuse)?;
    match verify_signature(o, local_dev, &parsed, now_ms).await {
        Ok(()) => {}
        Err(KeyFailure::Token(r)) => return Err(refuse(r)),
        Err(KeyFailure::Unavailable) => {
            return Err(Denial::DependencyUnavailable(
                Dependency::AuthorizationServer,
            ))
        }
    }
    let mut id = check_claims(o, &parsed.claims, now_ms / 1_000).map_err(refuse)?;
    // A tier set by the operator through the admin API outranks the token's own claim.
    if let Some(client_id) = id.client_id.clone() {
        if let Some(tier) = runtime::tier_for(env, &client_id, now_ms).await? {
            if o.tiers.iter().any(|t| t.name == tier) {
                id.tier = tier;
            }
        }
    }
    Ok(Some(id))
}

/// Whether the caller may make these tool calls. An anonymous caller meeting a scoped tool is
/// asked to authenticate (401); a token without the scope is asked to step up (403).
pub fn authorize(
    o: &OAuthSettings,
    tool_scopes: &[(String, Vec<String>)],
    caller: Option<&Identity>,
    tools: &[&str],
) -> Result<(), Denial> {
    let mut needed = o.required_scopes.clone();
    let mut tool_specific = false;
    for (_, scopes) in tool_scopes
        .iter()
        .filter(|(t, _)| tools.contains(&t.as_str()))
    {
        tool_specific = true;
        for s in scopes {
            if !needed.contains(s) {
                needed.push(s.clone());
            }
        }
    }
    match caller {
        None if tool_specific => Err(Denial::OAuthUnauthorized {
            www_authenticate: unauthorized(o, &needed, None),
            reason: None,
        }),
        None => Ok(()),
        Some(id) if id.missing(&needed).is_empty() => Ok(()),
        Some(id) => Err(Denial::InsufficientScope {
            www_authenticate: insufficient_scope(o, &id.scopes, &needed),
        }),
    }
}
