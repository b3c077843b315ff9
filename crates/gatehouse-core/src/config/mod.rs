//! Gatehouse's configuration: `wrangler.toml` `[vars]` plus Worker secrets, parsed into one typed
//! value and validated in one place. Every rule has a test below; every problem is reported at
//! once; a configuration with any problem is not built at all, so the gateway fails closed.

mod identity;
mod oauth;
mod reader;
mod routes;
mod runtime;
mod x402;

// What the configuration builds is owned by the modules that use it; it is re-exported here so a
// reader of `Config` finds every part of it in one place. Nothing outside `config` imports
// `config` (scripts/check_cycles.py).
pub use crate::credentials::identity::{IdentitySettings, RateKey};
pub use crate::credentials::keys::{parse_key_ring, KeyRing, SigningKey, MIN_SECRET_BYTES};
pub use crate::credentials::token::{BudgetFallback, TokenSettings, DEFAULT_REDUCED_METHODS};
pub use crate::metering::limits::{RequestLimits, DEFAULT_MAX_BATCH_CALLS};
pub use crate::origin::{parse_origin, OriginProblem, OriginUrl};
pub use crate::policy::OriginCredential;
pub use crate::rails::challenge::OfferKind;
pub use crate::rails::difficulty::{AdaptiveSettings, PowSettings};
pub use x402::X402Config;

use crate::admin_guard::{secret_bits, MIN_ADMIN_SECRET_BITS};
use crate::audit::{AuditSettings, DEFAULT_REDACT_KEYS};
use crate::credentials::revocation::Lifetimes;
use crate::credentials::token::Binding;
use crate::metering::quota::{Policy, Window};
use crate::oauth::settings::OAuthSettings;
use crate::policy::Route;
use crate::rails::l402::credential::L402Settings;
use crate::rails::l402::invoice::Backend;
use crate::rails::table::{Needs, RAILS};
use reader::Reader;

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

#[derive(Clone, PartialEq, Eq)]
pub struct L402Config {
    pub settings: L402Settings,
    pub backend: Backend,
    pub backend_url: OriginUrl,
    pub backend_key: String,
}

impl std::fmt::Debug for L402Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "L402Config({:?} at {}, service {}, {} sats)",
            self.backend,
            self.backend_url.authority_url,
            self.settings.service,
            self.settings.price_sats
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The origins behind the gateway: from `POLICY`, or the one built from `ORIGIN_URL`.
    pub routes: Vec<Route>,
    pub origin_timeout_ms: u32,
    pub local_dev: bool,
    /// The quota of a route that sets none (and of the default route).
    pub quota: Policy,
    pub identity: IdentitySettings,
    pub limits: RequestLimits,
    pub pow: PowSettings,
    pub adaptive: AdaptiveSettings,
    pub budget_fallback: Option<BudgetFallback>,
    pub challenge_ttl_s: u32,
    pub token: TokenSettings,
    pub admin_secret: Option<String>,
    /// Challenge kinds offered at quota exhaustion, in the order offered, where a route sets none.
    pub offers: Vec<OfferKind>,
    pub l402: Option<L402Config>,
    /// Set when a route offers x402 or MPP, which share its rail (every `X402_*` is then
    /// required).
    pub x402: Option<X402Config>,
    pub oauth: Option<OAuthSettings>,
    pub audit: AuditSettings,
}

impl Config {
    /// Builds the configuration from a variable lookup (vars and secrets alike), or returns every
    /// problem found. Problem lines name variables, never secret values.
    pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
        let mut r = Reader::new(get);
        let local_dev = r.flag("LOCAL_DEV", false);
        let origin_timeout_ms = r.number("ORIGIN_TIMEOUT_MS", 30_000, 100..=300_000);
        let quota = read_quota(&mut r);
        let rate_key_header = read_header_name(&mut r, "RATE_KEY_HEADER");
        let address_header = read_header_name(&mut r, "CLIENT_ADDRESS_HEADER");
        let identity = identity::read_identity(&mut r, rate_key_header, address_header, local_dev);
        let limits = identity::read_limits(&mut r);
        let pow = read_pow(&mut r);
        let adaptive = AdaptiveSettings {
            enabled: r.flag("POW_ADAPTIVE", true),
            target_solve_ms: r.number("POW_TARGET_SOLVE_MS", 8_000, 100..=600_000),
            interval_s: r.number("POW_ADJUST_SECONDS", 30, 5..=3_600),
        };
        let methods = list(
            &r.text("BUDGET_REDUCED_METHODS")
                .unwrap_or_else(|| DEFAULT_REDUCED_METHODS.into()),
        );
        let budget_fallback = r.text("BUDGET_REDUCED_TOOLS").map(|tools| BudgetFallback {
            tools: list(&tools),
            methods,
            ttl_s: 0,
        });
        let reduced_ttl_s = r.number("BUDGET_REDUCED_TTL_SECONDS", 900, 60..=86_400);
        let budget_fallback = budget_fallback.map(|b| BudgetFallback {
            ttl_s: reduced_ttl_s,
            ..b
        });
        let challenge_ttl_s = r.number("CHALLENGE_TTL_SECONDS", 60, 5..=3_600);
        let token = read_token(&mut r);
        let admin_secret = r.text("ADMIN_SECRET");
        if admin_secret
            .as_deref()
            .is_some_and(|s| secret_bits(s) < MIN_ADMIN_SECRET_BITS)
        {
            r.problem(format!(
                "ADMIN_SECRET is weaker than {MIN_ADMIN_SECRET_BITS} bits (use 32 random hex digits or more)"
            ));
        }
        let offers = read_offers(&mut r);
        let routes = quota
            .as_ref()
            .and_then(|q| routes::read_routes(&mut r, get, local_dev, q, &offers));
        // A rail's settings are read only where a route offers it, so only then required.
        let wants = |needs: Needs| {
            routes
                .iter()
                .flatten()
                .any(|route| route.offers.iter().any(|k| k.rail().needs == needs))
        };
        let wants_l402 = wants(Needs::Lightning);
        let l402 = if wants_l402 {
            read_l402(&mut r, local_dev)
        } else {
            None
        };
        let wants_x402 = wants(Needs::EvmToken);
        let x402 = wants_x402
            .then(|| x402::read_x402(&mut r, local_dev))
            .flatten();
        let oauth = oauth::read_oauth(&mut r, local_dev);
        let audit = AuditSettings {
            enabled: r.flag("AUDIT_ENABLED", true),
            redact_keys: r
                .text("AUDIT_REDACT_KEYS")
                .unwrap_or_else(|| DEFAULT_REDACT_KEYS.into())
                .split(',')
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            max_arg_bytes: r.number("AUDIT_MAX_ARG_BYTES", 512, 0..=16_384) as usize,
            retention_days: r.number("AUDIT_RETENTION_DAYS", 30, 1..=3_650),
        };
        match (routes, quota, token) {
            (Some(routes), Some(quota), Some(token)) if r.problems.is_empty() => Ok(Config {
                routes,
                origin_timeout_ms,
                local_dev,
                quota,
                identity,
                limits,
                pow,
                adaptive,
                budget_fallback,
                challenge_ttl_s,
                token,
                admin_secret,
                offers,
                l402,
                x402,
                oauth,
                audit,
            }),
            _ => Err(r.problems),
        }
    }
}

const MAX_INVOICE_EXPIRY_S: u32 = 86_400;

impl Config {
    /// The longest each kind of credential lives from its minting, for how long a revocation
    /// of it is kept (`revocation::kept_until_ms`).
    pub fn lifetimes(&self) -> Lifetimes {
        let reduced_s = self.budget_fallback.as_ref().map_or(0, |b| b.ttl_s);
        let token_s = self.token.ttl_s.max(reduced_s);
        let invoice_s = self
            .l402
            .as_ref()
            // Off now, but credentials minted while it was on may come back with it: the most
            // any of them could have had.
            .map_or(MAX_INVOICE_EXPIRY_S, |l| l.settings.invoice_expiry_s);
        Lifetimes {
            token_s,
            l402_s: invoice_s + self.token.ttl_s,
        }
    }
}

pub(super) fn read_origin(r: &mut Reader, local_dev: bool) -> Option<OriginUrl> {
    let raw = r.required("ORIGIN_URL")?;
    match parse_origin(&raw, local_dev) {
        Ok(origin) => Some(origin),
        Err(problem) => {
            r.problem(format!("ORIGIN_URL={raw:?} {}", problem.describe()));
            None
        }
    }
}

pub(super) fn read_origin_credential(r: &mut Reader) -> Option<OriginCredential> {
    let header =
        read_header_name(r, "ORIGIN_AUTH_HEADER").unwrap_or_else(|| "authorization".into());
    let value = r.text("ORIGIN_AUTH_VALUE")?;
    if value.chars().any(|c| c.is_control()) {
        r.problem("ORIGIN_AUTH_VALUE holds a control character".into());
        return None;
    }
    Some(OriginCredential { header, value })
}

fn read_header_name(r: &mut Reader, name: &str) -> Option<String> {
    let raw = r.text(name)?;
    // RFC 9110 §5.1: a field name is a token.
    let is_token = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !is_token {
        r.problem(format!("{name}={raw:?} is not a valid header name"));
        return None;
    }
    Some(raw.to_ascii_lowercase())
}

fn read_quota(r: &mut Reader) -> Option<Policy> {
    let per_minute = r.number("QUOTA_PER_MINUTE", 60, 0..=1_000_000);
    let per_hour = r.number("QUOTA_PER_HOUR", 0, 0..=100_000_000);
    let windows: Vec<Window> = [("minute", per_minute, 60), ("hour", per_hour, 3_600)]
        .into_iter()
        .filter_map(|(name, quota, seconds)| Window::new(name, quota, seconds))
        .collect();
    let policy = Policy::new(windows);
    if policy.is_none() {
        r.problem("QUOTA_PER_MINUTE and QUOTA_PER_HOUR are both 0: no quota would apply".into());
    }
    policy
}

fn read_pow(r: &mut Reader) -> PowSettings {
    let min_bits = r.number("POW_MIN_BITS", 12, 1..=32) as u8;
    let base_bits = r.number("POW_BASE_BITS", 14, 1..=32) as u8;
    let max_bits = r.number("POW_MAX_BITS", 16, 1..=32) as u8;
    if !(min_bits <= base_bits && base_bits <= max_bits) {
        r.problem(format!(
            "POW bits must satisfy POW_MIN_BITS <= POW_BASE_BITS <= POW_MAX_BITS (got {min_bits}, {base_bits}, {max_bits})"
        ));
    }
    PowSettings {
        min_bits,
        base_bits,
        max_bits,
    }
}

fn read_token(r: &mut Reader) -> Option<TokenSettings> {
    let ttl_s = r.number("TOKEN_TTL_SECONDS", 300, 10..=86_400);
    let grant = r.number("TOKEN_GRANT_REQUESTS", 60, 1..=1_000_000);
    let binding_raw = r
        .text("TOKEN_BINDING")
        .unwrap_or_else(|| "user_agent,client_key".into());
    let binding = Binding::parse(&binding_raw).map_err(|bad| {
        r.problem(format!(
            "TOKEN_BINDING names {bad:?}; allowed: user_agent, client_key, ip"
        ))
    });
    let issuer = r.text("TOKEN_ISSUER").unwrap_or_else(|| "gatehouse".into());
    let keys = match r.required("TOKEN_SIGNING_KEYS") {
        None => None,
        Some(raw) => match parse_key_ring(&raw) {
            Ok(ring) => Some(ring),
            Err(problems) => {
                problems.into_iter().for_each(|p| r.problem(p));
                None
            }
        },
    };
    Some(TokenSettings {
        ttl_s,
        grant,
        binding: binding.ok()?,
        keys: keys?,
        issuer,
    })
}

fn read_offers(r: &mut Reader) -> Vec<OfferKind> {
    let raw = r.text("CHALLENGE_OFFERS").unwrap_or_else(|| "pow".into());
    let mut offers = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(kind) = OfferKind::parse(part) else {
            let names: Vec<&str> = RAILS.iter().map(|rail| rail.name).collect();
            r.problem(format!(
                "CHALLENGE_OFFERS names {part:?}; allowed: {}",
                names.join(", ")
            ));
            continue;
        };
        if offers.contains(&kind) {
            r.problem(format!("CHALLENGE_OFFERS names {part:?} twice"));
        } else {
            offers.push(kind);
        }
    }
    if offers.is_empty() {
        r.problem("CHALLENGE_OFFERS offers nothing".into());
    }
    offers
}

fn read_l402(r: &mut Reader, local_dev: bool) -> Option<L402Config> {
    let backend_name = r.text("L402_BACKEND").unwrap_or_else(|| "lnbits".into());
    let backend = Backend::parse(&backend_name);
    if backend.is_none() {
        r.problem(format!(
            "L402_BACKEND={backend_name:?} must be lnbits or lnd"
        ));
    }
    let backend_url =
        r.required("L402_BACKEND_URL")
            .and_then(|raw| match parse_origin(&raw, local_dev) {
                Ok(url) => Some(url),
                Err(p) => {
                    r.problem(format!("L402_BACKEND_URL={raw:?} {}", p.describe()));
                    None
                }
            });
    let backend_key = r.required("L402_BACKEND_KEY");
    let root_secret = r.required("L402_ROOT_KEY");
    if root_secret
        .as_ref()
        .is_some_and(|k| k.len() < MIN_SECRET_BYTES)
    {
        r.problem(format!(
            "L402_ROOT_KEY is shorter than {MIN_SECRET_BYTES} bytes"
        ));
    }
    let price_sats = r.number("L402_PRICE_SATS", 3, 1..=1_000_000);
    let invoice_expiry_s = r.number(
        "L402_INVOICE_EXPIRY_SECONDS",
        300,
        60..=MAX_INVOICE_EXPIRY_S,
    );
    let service = r.text("L402_SERVICE").unwrap_or_else(|| "gatehouse".into());
    let service_ok = (1..=32).contains(&service.len())
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !service_ok {
        r.problem(format!(
            "L402_SERVICE={service:?} must be 1-32 of [a-z0-9_-]"
        ));
    }
    Some(L402Config {
        settings: L402Settings {
            service,
            root_secret: root_secret?.into_bytes(),
            price_sats,
            invoice_expiry_s,
        },
        backend: backend?,
        backend_url: backend_url?,
        backend_key: backend_key?,
    })
}

#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod x402_tests;
