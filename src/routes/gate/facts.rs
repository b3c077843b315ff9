//! What the gateway knows about a request before judging it: the caller's address key, the
//! fingerprint parts a token may be bound to, and the audience its tokens are minted for. Read
//! once from the request's headers and URL; `caller::identify` then settles the client key.

use gatehouse_core::address::address_key;
use gatehouse_core::config::Config;
use gatehouse_core::credentials::identity::UNATTRIBUTED;
use gatehouse_core::credentials::token::{binding_hash, Fingerprint};
use gatehouse_core::wire::request_url;

pub use crate::platform::incoming::Incoming;

/// A request header's value, treating an empty one as absent.
pub fn non_empty_header(req: &dyn Incoming, name: &str) -> Option<String> {
    req.header(name).filter(|v| !v.trim().is_empty())
}

pub struct RequestFacts {
    /// The key the client is counted under: its address key until `caller::identify` knows
    /// better (`key:<id>`, `sub:<subject>`, `hdr:<hash>`).
    pub client_key: String,
    /// `ip:<v4>` or `ip:<v6 prefix>/<bits>`.
    pub address_key: String,
    pub user_agent: String,
    pub ip: String,
    /// `scheme://host[:port]` of the gateway as the client addressed it.
    pub audience: String,
    /// Host as the client addressed it, path, and `?query` (or empty), for routing.
    pub host: String,
    pub path: String,
    pub query: String,
}

impl RequestFacts {
    pub fn read(req: &dyn Incoming, cfg: &Config) -> Self {
        let header = |name: &str| req.header(name);
        // Only an address the client cannot write itself counts (`AddressSource`); any other
        // client known by its address alone is counted with every such client.
        let via_edge = req.via_edge();
        let (ip, address_key) = match cfg.identity.address.trusted_header(via_edge) {
            Some(name) => {
                let ip = header(name).unwrap_or_else(|| "unknown".into());
                let key = address_key(&ip, cfg.identity.ipv6_prefix_bits);
                (ip, key)
            }
            None => ("unattributed".into(), UNATTRIBUTED.into()),
        };
        let url = req.url();
        let (audience, host, path, query) = match request_url::split(&url) {
            Some(p) => (
                p.origin.into(),
                p.host.into(),
                p.path.into(),
                p.query.into(),
            ),
            // The runtime's URLs are absolute; one that is not routes nowhere.
            None => Default::default(),
        };
        Self {
            client_key: address_key.clone(),
            address_key,
            user_agent: header("user-agent").unwrap_or_default(),
            ip,
            audience,
            host,
            path,
            query,
        }
    }

    pub fn binding_hash(&self, cfg: &Config) -> String {
        binding_hash(
            cfg.token.binding,
            Fingerprint {
                user_agent: &self.user_agent,
                client_key: &self.client_key,
                ip: &self.ip,
            },
        )
    }
}
