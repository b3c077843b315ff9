//! OAuth settings, parsed by `config` and used by the checks here.

use crate::metering::quota::Tier;
use crate::origin::OriginUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// Anonymous callers keep address-keyed limits; a token, if sent, must be valid.
    Optional,
    Required,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    pub mode: Mode,
    pub issuer: String,
    /// The canonical resource URI (RFC 8707): no fragment, no trailing slash. Tokens must name it
    /// in `aud`.
    pub resource: String,
    /// Path of the resource, for the path-suffixed metadata URL (`/mcp`).
    pub resource_path: String,
    /// Where the authorization server's metadata is read from.
    pub metadata_url: OriginUrl,
    pub metadata_path: String,
    /// Overrides the metadata's `jwks_uri`.
    pub jwks_url: Option<(OriginUrl, String)>,
    pub scopes_supported: Vec<String>,
    /// Scopes required for any call at all.
    pub required_scopes: Vec<String>,
    /// Tool name → scopes needed to call it, beyond `required_scopes`.
    pub tool_scopes: Vec<(String, Vec<String>)>,
    pub tier_claim: String,
    /// Client id → tier name, for tokens without a tier claim.
    pub client_tiers: Vec<(String, String)>,
    /// Tier name → quota. The first is the default tier.
    pub tiers: Vec<Tier>,
    pub leeway_s: u64,
    pub resource_name: String,
}

impl OAuthSettings {
    pub fn metadata_document_url(&self) -> String {
        let origin_end = self.resource.find("://").map(|i| i + 3).unwrap_or(0);
        let origin = match self.resource[origin_end..].find('/') {
            Some(i) => &self.resource[..origin_end + i],
            None => &self.resource,
        };
        format!(
            "{origin}/.well-known/oauth-protected-resource{}",
            self.resource_path
        )
    }

    /// Scopes a call of `tool` needs: the required ones plus the tool's own.
    pub fn scopes_for(&self, tool: Option<&str>) -> Vec<String> {
        let mut needed = self.required_scopes.clone();
        if let Some((_, extra)) =
            tool.and_then(|t| self.tool_scopes.iter().find(|(name, _)| name == t))
        {
            for s in extra {
                if !needed.contains(s) {
                    needed.push(s.clone());
                }
            }
        }
        needed
    }

    pub fn tier(&self, name: &str) -> &Tier {
        self.tiers
            .iter()
            .find(|t| t.name == name)
            .unwrap_or(&self.tiers[0])
    }

    /// Whether any tool needs its own scope, so the request body must be read to name the tool.
    pub fn has_tool_scopes(&self) -> bool {
        !self.tool_scopes.is_empty()
    }
}
