//! MCP-aware policy: the origins behind the gateway (routes), and per origin its quota, the cost
//! of each call, per-tool and per-resource limits, challenge offers, in-band challenges and
//! legacy clients. `route.rs` picks the route; `charge.rs` turns a request's calls into counter
//! checks; `parse.rs` reads the `POLICY` document.

pub mod charge;
pub mod glob;
pub mod parse;
pub mod route;
pub mod runtime;

pub use glob::Pattern;

use crate::metering::quota::Policy;
use crate::origin::OriginUrl;
use crate::rails::challenge::OfferKind;

/// An HTTP header the gateway adds on its way to the origin, from a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct OriginCredential {
    pub header: String,
    pub value: String,
}

impl std::fmt::Debug for OriginCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OriginCredential({}: <redacted>)", self.header)
    }
}

/// What a rule's pattern is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The JSON-RPC method (`initialize`, `tools/list`, `ping`).
    Method,
    /// The tool name of a `tools/call`.
    Tool,
    /// The URI of a `resources/read`.
    Resource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub target: Target,
    pub pattern: Pattern,
}

/// Each matching call costs `weight` units of the route's quota (first matching rule wins;
/// unmatched calls cost 1, but `server/discover`: `charge::weight`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRule {
    pub rule: Rule,
    pub weight: u32,
}

/// Matching calls also count against a quota of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRule {
    pub name: String,
    pub rule: Rule,
    pub policy: Policy,
}

/// Clients that get `429` with `Retry-After` instead of `402`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Legacy {
    /// User agents that never see a 402.
    pub user_agents: Vec<Pattern>,
    /// A client first seen less than this long ago sees 429 before 402.
    pub grace_s: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    /// `/` or a path prefix without a trailing slash; replaced by the origin URL's path.
    pub prefix: String,
    pub host: Option<String>,
    pub origin: OriginUrl,
    pub credential: Option<OriginCredential>,
    pub quota: Policy,
    pub offers: Vec<OfferKind>,
    /// Tool name → scopes, replacing `OAUTH_TOOL_SCOPES` for this route when set.
    pub tool_scopes: Option<Vec<(String, Vec<String>)>>,
    pub costs: Vec<CostRule>,
    pub limits: Vec<LimitRule>,
    /// Answer clients that have not said they handle HTTP 402 with a JSON-RPC error instead.
    pub in_band: bool,
    pub legacy: Legacy,
}
