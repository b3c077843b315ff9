//! The OAuth 2.1 resource server that the MCP authorization spec asks of a remote MCP server
//! (revisions 2025-06-18 onwards, docs/PROTOCOL.md §3): protected-resource metadata (RFC 9728), access
//! tokens checked for issuer, audience (RFC 8707), lifetime and scope, the 401/403 challenge
//! forms, and per-tool scopes for step-up. Signatures are the shell's (WebCrypto); everything
//! else is here.

pub mod access_token;
pub mod challenge;
pub mod fetch_schedule;
pub mod jwk;
pub mod settings;
