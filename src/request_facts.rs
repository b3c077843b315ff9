//! What the gateway knows about the caller: its rate key, fingerprint and the audience its
//! tokens are minted for. Read once from the request's headers and URL.

use gatehouse_core::bytes::to_hex;
use gatehouse_core::config::Config;
use gatehouse_core::token::{binding_hash, Fingerprint};
use sha2::{Digest, Sha256};
use worker::Request;

/// A request header's value, treating an empty one as absent.
pub fn non_empty_header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .ok()
        .flatten()
        .filter(|v| !v.trim().is_empty())
}

pub struct RequestFacts {
    /// `key:<hash>` for an API key, `ip:<address>` otherwise. Keys are hashed so that a raw API
    /// key never lands in a Durable Object name or a log line.
    pub client_key: String,
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
    pub fn read(req: &Request, cfg: &Config) -> Self {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let ip = header("cf-connecting-ip").unwrap_or_else(|| "unknown".into());
        let api_key = cfg
            .rate_key_header
            .as_deref()
            .and_then(header)
            .filter(|k| !k.is_empty());
        let client_key = match api_key {
            Some(key) => format!("key:{}", &to_hex(&Sha256::digest(key.as_bytes()))[..32]),
            None => format!("ip:{ip}"),
        };
        let (audience, host, path, query) = match req.url() {
            Ok(url) => (
                url.origin().ascii_serialization(),
                url.host_str().unwrap_or("").to_string(),
                url.path().to_string(),
                url.query().map(|q| format!("?{q}")).unwrap_or_default(),
            ),
            Err(_) => (String::new(), String::new(), req.path(), String::new()),
        };
        Self {
            client_key,
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
