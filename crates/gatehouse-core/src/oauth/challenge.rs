//! The resource server's own documents and challenges (RFC 9728, RFC 6750 §3, MCP authorization
//! "Protected Resource Metadata Discovery" and "Scope Challenge Handling").

use serde_json::Value;

use super::settings::OAuthSettings;
use crate::wire::json_object::object;

/// The protected-resource metadata document (RFC 9728 §2). `offline_access` is never listed:
/// refresh is between the client and its authorization server, not this resource's business.
pub fn metadata(settings: &OAuthSettings) -> Value {
    let scopes: Vec<&str> = settings
        .scopes_supported
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "offline_access")
        .collect();
    object([
        ("resource", settings.resource.as_str().into()),
        (
            "authorization_servers",
            vec![settings.issuer.as_str()].into(),
        ),
        ("scopes_supported", scopes.into()),
        ("bearer_methods_supported", vec!["header"].into()),
        ("resource_name", settings.resource_name.as_str().into()),
    ])
}

fn quoted(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `401`: no token (`invalid` = None), or a token that failed (`Some(description)`).
pub fn unauthorized(settings: &OAuthSettings, needed: &[String], invalid: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(description) = invalid {
        parts.push("error=\"invalid_token\"".to_string());
        parts.push(format!("error_description=\"{}\"", quoted(description)));
    }
    parts.push(format!(
        "resource_metadata=\"{}\"",
        settings.metadata_document_url()
    ));
    if !needed.is_empty() {
        parts.push(format!("scope=\"{}\"", quoted(&needed.join(" "))));
    }
    format!("Bearer {}", parts.join(", "))
}

/// `403`: the token is good but lacks a scope. `scope` lists what the client holds plus what it
/// must add, so that a step-up asks for everything at once.
pub fn insufficient_scope(
    settings: &OAuthSettings,
    granted: &[String],
    needed: &[String],
) -> String {
    let mut scope: Vec<&String> = granted.iter().collect();
    for s in needed {
        if !scope.contains(&s) {
            scope.push(s);
        }
    }
    let scope = scope
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let missing: Vec<&str> = needed
        .iter()
        .filter(|s| !granted.contains(s))
        .map(String::as_str)
        .collect();
    format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{}\"",
        quoted(&scope),
        settings.metadata_document_url(),
        quoted(&format!("This call needs scope {}", missing.join(" ")))
    )
}
