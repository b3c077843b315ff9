//! The `POLICY` document: a JSON object that describes every origin behind the gateway. Without
//! it the gateway has one route, `/`, built from the flat variables. Every problem is reported
//! at once, like the rest of the configuration.
//!
//! ```json
//! {"origins": [{
//!   "name": "files", "prefix": "/files", "host": "files.example.com",
//!   "url": "https://files-mcp.internal.example.com",
//!   "credential": {"header": "x-api-key", "secret": "FILES_ORIGIN_KEY"},
//!   "quota": {"per_minute": 60, "per_hour": 1000},
//!   "offers": ["l402", "pow"],
//!   "tool_scopes": {"delete_file": "files:write"},
//!   "costs": [{"tool": "heavy_*", "weight": 10}, {"method": "*/list", "weight": 0}],
//!   "limits": [{"name": "heavy", "tool": "heavy_*", "per_minute": 5}],
//!   "in_band": true,
//!   "legacy": {"user_agents": ["OldAgent/*"], "grace_seconds": 120}
//! }]}
//! ```

use serde_json::{Map, Value};

use super::{CostRule, Legacy, LimitRule, OriginCredential, Pattern, Route, Rule, Target};

/// What an origin that says nothing about it inherits from the flat variables.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub quota: Policy,
    pub offers: Vec<OfferKind>,
    pub in_band: bool,
    pub legacy: Legacy,
}
use crate::metering::quota::{Policy, Window};
use crate::origin::parse_origin;
use crate::rails::challenge::OfferKind;

pub const MAX_POLICY_BYTES: usize = 64 * 1024;

struct Ctx<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    local_dev: bool,
    problems: Vec<String>,
}

impl Ctx<'_> {
    fn bad(&mut self, origin: &str, what: String) {
        self.problems
            .push(format!("POLICY origin {origin:?}: {what}"));
    }
}

/// Parses the document into routes; `defaults` supplies what an origin leaves out.
pub fn parse_policy(
    doc: &str,
    defaults: &Defaults,
    get: &dyn Fn(&str) -> Option<String>,
    local_dev: bool,
) -> Result<Vec<Route>, Vec<String>> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err(vec![format!(
            "POLICY is larger than {MAX_POLICY_BYTES} bytes"
        )]);
    }
    let root: Value = serde_json::from_slice(doc.as_bytes())
        .map_err(|e| vec![format!("POLICY is not JSON: {e}")])?;
    let Some(origins) = root
        .get("origins")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
    else {
        return Err(vec!["POLICY needs a non-empty \"origins\" list".into()]);
    };
    let mut ctx = Ctx {
        get,
        local_dev,
        problems: Vec::new(),
    };
    let mut routes: Vec<Route> = Vec::new();
    for (i, o) in origins.iter().enumerate() {
        let Some(o) = o.as_object() else {
            ctx.problems
                .push(format!("POLICY origin {} is not an object", i + 1));
            continue;
        };
        if let Some(route) = origin(&mut ctx, o, defaults) {
            if routes.iter().any(|r| r.name == route.name) {
                ctx.bad(&route.name, "the name is used twice".into());
            } else if routes
                .iter()
                .any(|r| r.prefix == route.prefix && r.host == route.host)
            {
                ctx.bad(
                    &route.name,
                    "another origin has the same host and prefix".into(),
                );
            } else {
                routes.push(route);
            }
        }
    }
    if ctx.problems.is_empty() {
        Ok(routes)
    } else {
        Err(ctx.problems)
    }
}

fn origin(ctx: &mut Ctx, o: &Map<String, Value>, d: &Defaults) -> Option<Route> {
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let name = s("name").unwrap_or_default();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        ctx.problems
            .push(format!("POLICY origin name {name:?} must be [a-z0-9_-]+"));
        return None;
    }
    let known = [
        "name",
        "prefix",
        "host",
        "url",
        "credential",
        "quota",
        "offers",
        "tool_scopes",
        "costs",
        "limits",
        "in_band",
        "legacy",
    ];
    for key in o.keys().filter(|k| !known.contains(&k.as_str())) {
        ctx.bad(&name, format!("unknown field {key:?}"));
    }
    let prefix = s("prefix").unwrap_or_else(|| "/".into());
    if !prefix.starts_with('/') || (prefix.len() > 1 && prefix.ends_with('/')) {
        ctx.bad(
            &name,
            format!("prefix {prefix:?} must start with / and not end with one"),
        );
    }
    let origin = match s("url").map(|u| parse_origin(&u, ctx.local_dev).map_err(|p| (u, p))) {
        Some(Ok(u)) => Some(u),
        Some(Err((u, p))) => {
            ctx.bad(&name, format!("url {u:?} {}", p.describe()));
            None
        }
        None => {
            ctx.bad(&name, "url is required".into());
            None
        }
    };
    let route = Route {
        prefix,
        host: s("host").map(|h| h.to_ascii_lowercase()),
        credential: credential(ctx, &name, o.get("credential")),
        quota: quota(ctx, &name, o.get("quota")).unwrap_or_else(|| d.quota.clone()),
        offers: offers(ctx, &name, o.get("offers")).unwrap_or_else(|| d.offers.clone()),
        tool_scopes: tool_scopes(ctx, &name, o.get("tool_scopes")),
        costs: costs(ctx, &name, o.get("costs")),
        limits: limits(ctx, &name, o.get("limits")),
        in_band: o
            .get("in_band")
            .and_then(Value::as_bool)
            .unwrap_or(d.in_band),
        legacy: legacy(ctx, &name, o.get("legacy")).unwrap_or_else(|| d.legacy.clone()),
        origin: origin?,
        name,
    };
    Some(route)
}

fn credential(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Option<OriginCredential> {
    let v = v?;
    let header = v
        .get("header")
        .and_then(Value::as_str)
        .unwrap_or("authorization")
        .to_ascii_lowercase();
    let Some(secret) = v.get("secret").and_then(Value::as_str) else {
        ctx.bad(
            name,
            "credential needs \"secret\": the name of a Worker secret".into(),
        );
        return None;
    };
    match (ctx.get)(secret) {
        Some(value) if !value.is_empty() => Some(OriginCredential { header, value }),
        _ => {
            ctx.bad(name, format!("credential secret {secret:?} is not set"));
            None
        }
    }
}

fn windows(ctx: &mut Ctx, name: &str, label: &str, v: &Value) -> Option<Policy> {
    let n = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .map(|x| x.min(u64::from(u32::MAX)) as u32)
            .unwrap_or(0)
    };
    let ws: Vec<Window> = [
        (format!("{label}minute"), n("per_minute"), 60),
        (format!("{label}hour"), n("per_hour"), 3_600),
    ]
    .into_iter()
    .filter_map(|(l, q, s)| Window::new(&l, q, s))
    .collect();
    let p = Policy::new(ws);
    if p.is_none() {
        ctx.bad(
            name,
            format!(
                "{} needs per_minute or per_hour above 0",
                if label.is_empty() { "quota" } else { "a limit" }
            ),
        );
    }
    p
}

fn quota(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Option<Policy> {
    windows(ctx, name, "", v?)
}

fn offers(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Option<Vec<OfferKind>> {
    let list = v?.as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for o in list {
        match o.as_str().and_then(OfferKind::parse) {
            Some(kind) if !out.contains(&kind) => out.push(kind),
            _ => ctx.bad(
                name,
                format!("offers: {o} is not pow, l402 or x402, or is repeated"),
            ),
        }
    }
    if out.is_empty() {
        ctx.bad(name, "offers is empty".into());
    }
    Some(out)
}

fn tool_scopes(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Option<Vec<(String, Vec<String>)>> {
    let map = v?.as_object()?;
    let mut out = Vec::new();
    for (tool, scopes) in map {
        let list: Vec<String> = scopes
            .as_str()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if list.is_empty() || list.iter().any(|s| s.contains('*')) {
            ctx.bad(
                name,
                format!("tool_scopes for {tool:?} must be space-separated scopes, no wildcards"),
            );
        }
        out.push((tool.clone(), list));
    }
    Some(out)
}

fn rule(ctx: &mut Ctx, name: &str, v: &Value) -> Option<Rule> {
    let found: Vec<(Target, &str)> = [
        ("method", Target::Method),
        ("tool", Target::Tool),
        ("resource", Target::Resource),
    ]
    .into_iter()
    .filter_map(|(k, t)| v.get(k).and_then(Value::as_str).map(|p| (t, p)))
    .collect();
    match found.as_slice() {
        [(target, pattern)] if !pattern.is_empty() => Some(Rule {
            target: *target,
            pattern: Pattern::new(pattern),
        }),
        _ => {
            ctx.bad(
                name,
                format!("rule {v} needs exactly one of method, tool, resource"),
            );
            None
        }
    }
}

fn costs(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Vec<CostRule> {
    let mut out = Vec::new();
    for c in v.and_then(Value::as_array).cloned().unwrap_or_default() {
        let weight = c
            .get("weight")
            .and_then(Value::as_u64)
            .filter(|w| *w <= 10_000);
        match (rule(ctx, name, &c), weight) {
            (Some(rule), Some(w)) => out.push(CostRule {
                rule,
                weight: w as u32,
            }),
            (Some(_), None) => ctx.bad(name, format!("cost {c} needs a weight from 0 to 10000")),
            _ => {}
        }
    }
    out
}

fn limits(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Vec<LimitRule> {
    let mut out: Vec<LimitRule> = Vec::new();
    for l in v.and_then(Value::as_array).cloned().unwrap_or_default() {
        let label = l
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if label.is_empty()
            || out.iter().any(|o| o.name == label)
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            ctx.bad(name, format!("limit {l} needs a unique [A-Za-z0-9_-] name"));
            continue;
        }
        let (Some(rule), Some(policy)) = (
            rule(ctx, name, &l),
            windows(ctx, name, &format!("{label}:"), &l),
        ) else {
            continue;
        };
        if rule.target == Target::Method {
            ctx.bad(
                name,
                format!("limit {label:?} must match a tool or a resource"),
            );
            continue;
        }
        out.push(LimitRule {
            name: label,
            rule,
            policy,
        });
    }
    out
}

fn legacy(ctx: &mut Ctx, name: &str, v: Option<&Value>) -> Option<Legacy> {
    let v = v?;
    let user_agents = v
        .get("user_agents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let grace = v.get("grace_seconds").and_then(Value::as_u64).unwrap_or(0);
    if grace > 86_400 {
        ctx.bad(name, "legacy.grace_seconds must be at most 86400".into());
    }
    Some(Legacy {
        user_agents: user_agents
            .iter()
            .filter_map(Value::as_str)
            .map(Pattern::new)
            .collect(),
        grace_s: grace.min(86_400) as u32,
    })
}

#[cfg(test)]
pub(crate) mod tests;
