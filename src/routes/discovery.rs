//! The resource server's discovery documents: protected-resource metadata (RFC 9728) at the root
//! well-known path and at the path-suffixed one, and, for older clients that look for it on the
//! resource's host, the authorization server's own metadata (RFC 8414), served from its source.

use gatehouse_core::config::Config;
use gatehouse_core::oauth::challenge::metadata;
use gatehouse_core::wire::denial::{Denial, Dependency, Wire};
use worker::Response;

use crate::platform::oauth_keys;
use crate::platform::respond;

pub const RESOURCE_METADATA: &str = "/.well-known/oauth-protected-resource";
pub const SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";

pub fn is_discovery(path: &str) -> bool {
    path == RESOURCE_METADATA
        || path.starts_with("/.well-known/oauth-protected-resource/")
        || path == SERVER_METADATA
}

pub async fn handle(path: &str, cfg: &Config, now_ms: u64) -> Result<Response, Denial> {
    let o = cfg.oauth.as_ref().ok_or(Denial::NotFound)?;
    let json = |body: serde_json::Value| {
        respond::wire(&Wire {
            status: 200,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "public, max-age=300".into()),
            ],
            body,
        })
        .map_err(|_| Denial::Internal)
    };
    if path == SERVER_METADATA {
        // `oauth_keys` has logged the failure already.
        let body = oauth_keys::metadata(o, now_ms)
            .await
            .map_err(|_| Denial::DependencyUnavailable(Dependency::AuthorizationServer))?;
        return json(serde_json::from_slice(&body).map_err(|_| Denial::Internal)?);
    }
    // Only the root document and the one for the configured resource's path exist.
    let suffix = &path[RESOURCE_METADATA.len()..];
    if !suffix.is_empty() && suffix != o.resource_path {
        return Err(Denial::NotFound);
    }
    json(metadata(o))
}
