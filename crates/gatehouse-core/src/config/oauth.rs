//! Reading the OAuth resource-server settings (`OAUTH_*`). Kept apart from the rest of the
//! configuration because there are many rules, each with a test in `tests.rs`.

use super::reader::Reader;
use crate::metering::quota::{Policy, Tier, Window};
use crate::oauth::settings::{Mode, OAuthSettings};
use crate::origin::{parse_origin, OriginUrl};

const DEFAULT_TIERS: &str = "basic=1000/3600,production=10000/3600";

pub fn read_oauth(r: &mut Reader, local_dev: bool) -> Option<OAuthSettings> {
    let mode = match r.text("OAUTH_MODE").as_deref().unwrap_or("off") {
        "off" => return None,
        "optional" => Mode::Optional,
        "required" => Mode::Required,
        other => {
            r.problem(format!(
                "OAUTH_MODE={other:?} must be off, optional or required"
            ));
            return None;
        }
    };
    let issuer = r.required("OAUTH_ISSUER");
    let issuer_url = issuer
        .as_deref()
        .and_then(|i| url(r, "OAUTH_ISSUER", i, local_dev));
    let resource_raw = r.required("OAUTH_RESOURCE");
    let resource = resource_raw
        .as_deref()
        .and_then(|raw| url(r, "OAUTH_RESOURCE", raw, local_dev));
    let metadata = match r.text("OAUTH_METADATA_URL") {
        Some(raw) => url(r, "OAUTH_METADATA_URL", &raw, local_dev).map(|u| split(&u, "")),
        // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
        None => issuer_url.as_ref().map(|u| {
            (
                OriginUrl {
                    authority_url: u.authority_url.clone(),
                    path_prefix: String::new(),
                },
                format!("/.well-known/oauth-authorization-server{}", u.path_prefix),
            )
        }),
    };
    let jwks_url = r
        .text("OAUTH_JWKS_URL")
        .and_then(|raw| url(r, "OAUTH_JWKS_URL", &raw, local_dev))
        .map(|u| split(&u, ""));
    let required_scopes = scopes(
        r,
        "OAUTH_REQUIRED_SCOPES",
        &r.text("OAUTH_REQUIRED_SCOPES").unwrap_or_default(),
    );
    let tool_scopes = tool_scopes(r);
    let mut scopes_supported = match r.text("OAUTH_SCOPES_SUPPORTED") {
        Some(raw) => scopes(r, "OAUTH_SCOPES_SUPPORTED", &raw),
        None => Vec::new(),
    };
    for s in required_scopes
        .iter()
        .chain(tool_scopes.iter().flat_map(|(_, s)| s))
    {
        if !scopes_supported.contains(s) {
            scopes_supported.push(s.clone());
        }
    }
    let tiers = read_tiers(r, "OAUTH_TIERS", DEFAULT_TIERS);
    let client_tiers = client_tiers(r, &tiers);
    let leeway_s = u64::from(r.number("OAUTH_LEEWAY_SECONDS", 30, 0..=300));
    let tier_claim = r.text("OAUTH_TIER_CLAIM").unwrap_or_else(|| "tier".into());
    let resource_name = r
        .text("OAUTH_RESOURCE_NAME")
        .unwrap_or_else(|| "Gatehouse".into());
    let resource = resource?;
    let (metadata_url, metadata_path) = metadata?;
    Some(OAuthSettings {
        mode,
        issuer: issuer?,
        resource: format!("{}{}", resource.authority_url, resource.path_prefix),
        resource_path: resource.path_prefix,
        metadata_url,
        metadata_path,
        jwks_url,
        scopes_supported,
        required_scopes,
        tool_scopes,
        tier_claim,
        client_tiers,
        tiers: tiers?,
        leeway_s,
        resource_name,
    })
}

fn url(r: &mut Reader, name: &str, raw: &str, local_dev: bool) -> Option<OriginUrl> {
    match parse_origin(raw, local_dev) {
        Ok(u) => Some(u),
        Err(p) => {
            r.problem(format!("{name}={raw:?} {}", p.describe()));
            None
        }
    }
}

/// A URL as the authority to fetch from and the path to fetch.
fn split(u: &OriginUrl, suffix: &str) -> (OriginUrl, String) {
    (
        OriginUrl {
            authority_url: u.authority_url.clone(),
            path_prefix: String::new(),
        },
        format!("{}{suffix}", u.path_prefix),
    )
}

/// RFC 6749 §3.3 scope tokens, separated by spaces or commas. No wildcards: a scope is a name,
/// never a pattern that grants everything.
fn scopes(r: &mut Reader, name: &str, raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in raw.split([' ', ',']).filter(|s| !s.is_empty()) {
        let syntax = s
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !syntax || s.contains('*') {
            r.problem(format!(
                "{name} names {s:?}, which is not a scope (no wildcards)"
            ));
        } else if !out.iter().any(|o: &String| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// `OAUTH_TOOL_SCOPES = "tool=scope scope;other=scope"`.
fn tool_scopes(r: &mut Reader) -> Vec<(String, Vec<String>)> {
    let raw = r.text("OAUTH_TOOL_SCOPES").unwrap_or_default();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((tool, list)) = entry.split_once('=') else {
            r.problem(format!(
                "OAUTH_TOOL_SCOPES entry {entry:?} is not tool=scopes"
            ));
            continue;
        };
        let tool = tool.trim();
        if tool.is_empty() || out.iter().any(|(t, _)| t == tool) {
            r.problem(format!(
                "OAUTH_TOOL_SCOPES names tool {tool:?} twice or not at all"
            ));
            continue;
        }
        let needed = scopes(r, "OAUTH_TOOL_SCOPES", list);
        if needed.is_empty() {
            r.problem(format!("OAUTH_TOOL_SCOPES gives tool {tool:?} no scope"));
        }
        out.push((tool.to_string(), needed));
    }
    out
}

/// `OAUTH_TIERS = "basic=1000/3600,production=10000/3600"` (or `KEY_TIERS`); a tier may join
/// windows with `+` (`60/60+1000/3600`). The first tier is the default.
pub(super) fn read_tiers(r: &mut Reader, var: &str, default: &str) -> Option<Vec<Tier>> {
    let raw = r.text(var).unwrap_or_else(|| default.into());
    let mut out: Vec<Tier> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once('=').and_then(|(name, windows)| {
            let windows: Option<Vec<Window>> = windows
                .split('+')
                .map(|w| {
                    let (q, s) = w.trim().split_once('/')?;
                    let (q, s) = (q.parse().ok()?, s.parse().ok()?);
                    Window::new(
                        if s == 3_600 {
                            "hour"
                        } else if s == 60 {
                            "minute"
                        } else {
                            "window"
                        },
                        q,
                        s,
                    )
                })
                .collect();
            Some((name.trim().to_string(), Policy::new(windows?)?))
        });
        match parsed {
            Some((name, policy)) if !name.is_empty() && !out.iter().any(|t| t.name == name) => out.push(Tier { name, policy }),
            _ => r.problem(format!("{var} entry {entry:?} is not name=quota/seconds[+quota/seconds], or repeats a name")),
        }
    }
    if out.is_empty() {
        r.problem(format!("{var} defines no tier"));
        return None;
    }
    Some(out)
}

/// `OAUTH_CLIENT_TIERS = "client-id=tier,other=tier"`, for tokens that carry no tier claim.
fn client_tiers(r: &mut Reader, tiers: &Option<Vec<Tier>>) -> Vec<(String, String)> {
    let raw = r.text("OAUTH_CLIENT_TIERS").unwrap_or_default();
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.split_once('=') {
            Some((client, tier))
                if tiers
                    .as_ref()
                    .is_none_or(|ts| ts.iter().any(|t| t.name == tier.trim())) =>
            {
                out.push((client.trim().to_string(), tier.trim().to_string()));
            }
            _ => r.problem(format!(
                "OAUTH_CLIENT_TIERS entry {entry:?} is not client=<a tier in OAUTH_TIERS>"
            )),
        }
    }
    out
}
