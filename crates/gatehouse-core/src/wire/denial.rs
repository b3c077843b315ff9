//! Every answer the gateway gives instead of the origin's, and its one mapping to the wire.
//!
//! Status codes follow the rule that a client must be able to act on each: `402` only for a
//! confirmed quota exhaustion (docs/PROTOCOL.md §1), `401` for a bad credential, `400` for malformed
//! input, `503` with `Retry-After` when a binding the gateway depends on fails (never `402` or
//! `429`: the client did nothing wrong), `502`/`504` when the origin fails. Wire messages stay
//! generic; the detail (`log_detail`) goes to the operator's log.

use serde_json::Value;

use crate::credentials::api_key::KeyRejection;
use crate::credentials::token::TokenRejection;
use crate::mcp::{BodyRejection, MAX_POLICY_BODY};
use crate::metering::quota::{Decision, Policy};
use crate::rails::challenge::{Offer, RedeemError};
use crate::rails::l402::credential::L402Rejection;
use crate::rails::x402::Refusal;
use crate::wire::headers::{RETRY_AFTER_HEADER, WWW_AUTHENTICATE_HEADER};
use crate::wire::json_object::object;

mod exhausted;
mod log;
mod redeem;
use exhausted::exhausted;
pub use exhausted::{Answer, InBandCall};
use redeem::redeem_error;

/// A dependency of the gateway that can fail independently of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    QuotaStore,
    ChallengeStore,
    RevocationStore,
    InvoiceBackend,
    AuthorizationServer,
    /// The x402 facilitator (`/verify`, `/settle`).
    Facilitator,
    /// The gateway's own Wasm instance, failed under a request (a panic aborts it, and the module
    /// entry resets it for the next request): answered by the entry, from this mapping.
    Instance,
}

impl Dependency {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::QuotaStore => "quota_store",
            Self::ChallengeStore => "challenge_store",
            Self::RevocationStore => "revocation_store",
            Self::InvoiceBackend => "invoice_backend",
            Self::AuthorizationServer => "authorization_server",
            Self::Facilitator => "x402_facilitator",
            Self::Instance => "wasm_instance",
        }
    }
}

/// JSON-RPC error codes of the gateway's own answers: quota exhaustion told in-band, and
/// `Mcp-Method`/`Mcp-Name` that disagree with the body (MCP 2026-07-28; docs/PROTOCOL.md §4).
/// 402 lies outside `-32768…-32000`, so that no MCP revision defines it otherwise (2025-11-25
/// makes -32042 "URL elicitation required"; 2026-07-28 forbids -32042 and every undefined code
/// in `-32020…-32099`).
pub const RPC_PAYMENT_REQUIRED: i64 = 402;
pub const RPC_HEADER_MISMATCH: i64 = -32020;
/// A session id not issued to this caller (MCP Streamable HTTP).
pub const RPC_SESSION_NOT_FOUND: i64 = -32001;
/// JSON-RPC 2.0 §5.1.
pub const RPC_PARSE_ERROR: i64 = -32700;
pub const RPC_INVALID_REQUEST: i64 = -32600;

/// Seconds a client should wait after a dependency failure: long enough not to hammer it.
pub const DEPENDENCY_RETRY_AFTER_S: u32 = 2;

#[derive(Debug, Clone)]
pub enum Denial {
    QuotaExhausted {
        policy: Policy,
        decision: Decision,
        offers: Vec<Offer>,
        verify_url: String,
        answer: Answer,
    },
    /// `Mcp-Method`/`Mcp-Name` disagree with the body: JSON-RPC error -32020 (2026-07-28).
    McpHeaderMismatch {
        id: Option<Value>,
    },
    /// A POST body the gateway will not read, so will not forward (docs/PROTOCOL.md §4).
    Body(BodyRejection),
    /// A session id that was not issued to this caller, or not by this gateway.
    SessionNotFound,
    InvalidToken(TokenRejection),
    InvalidL402(L402Rejection),
    /// An x402 payment refused before or at settlement (`crate::rails::x402::rejection`).
    InvalidX402(Box<Refusal>),
    /// An MPP credential refused (`crate::rails::mpp::refusal`).
    InvalidMpp(Box<crate::rails::mpp::refusal::MppRefusal>),
    /// OAuth `401`: no token, or a bad one (`reason`); the header is `oauth::challenge`'s.
    OAuthUnauthorized {
        www_authenticate: String,
        reason: Option<&'static str>,
    },
    /// OAuth `403` for step-up.
    InsufficientScope {
        www_authenticate: String,
    },
    Redeem(RedeemError),
    PayloadTooLarge {
        limit: usize,
    },
    DependencyUnavailable(Dependency),
    Misconfigured,
    OriginUnreachable,
    OriginTimeout,
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    AdminUnauthorized,
    AdminDisabled,
    /// A state-changing request whose body is not of the one media type the endpoint reads.
    UnsupportedMediaType {
        accept: &'static str,
    },
    /// A state-changing request sent by a page on another origin (cross-site request forgery);
    /// `reason` is for the operator's log.
    CrossOrigin {
        reason: &'static str,
    },
    InvalidRequest(&'static str),
    /// A reduced-grant token used for a tool outside its grant.
    TokenScope,
    /// An API key the gateway did not issue, or one it revoked: never a fresh quota.
    InvalidApiKey(KeyRejection),
    /// A body with more JSON-RPC calls than `MAX_BATCH_CALLS`.
    TooManyCalls {
        limit: usize,
    },
    /// An admin policy change that does not fit the configuration; the reason is for the admin.
    InvalidPolicy(String),
    /// The runtime failed at something that cannot fail in practice (building a request object);
    /// still a JSON answer with a code, never a bare 500.
    Internal,
}

/// A complete response, ready for the shell to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Wire {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Denial {
    pub fn to_wire(&self) -> Wire {
        let (status, body, mut headers) = match self {
            Self::QuotaExhausted {
                policy,
                decision,
                offers,
                verify_url,
                answer,
            } => exhausted(policy, decision, offers, verify_url, answer),
            Self::McpHeaderMismatch { id } => (
                400,
                rpc_error(
                    id.clone(),
                    RPC_HEADER_MISMATCH,
                    "Mcp-Method or Mcp-Name does not match the request body",
                ),
                vec![],
            ),
            Self::Body(r) => body_rejection(*r),
            Self::SessionNotFound => (
                404,
                rpc_error(None, RPC_SESSION_NOT_FOUND, "Session not found"),
                vec![],
            ),
            Self::OAuthUnauthorized {
                www_authenticate,
                reason,
            } => (
                401,
                match reason {
                    Some(_) => error("invalid_token", "the access token is invalid or expired"),
                    None => error("unauthorized", "an OAuth access token is required"),
                },
                vec![(WWW_AUTHENTICATE_HEADER, www_authenticate.clone())],
            ),
            Self::InsufficientScope { www_authenticate } => (
                403,
                error(
                    "insufficient_scope",
                    "the access token lacks a scope this call needs",
                ),
                vec![(WWW_AUTHENTICATE_HEADER, www_authenticate.clone())],
            ),
            Self::InvalidL402(reason) => (
                401,
                object([
                    ("error", "invalid_l402_credential".into()),
                    ("reason", reason.as_str().into()),
                    (
                        "message",
                        "the L402 credential was refused; pay a new invoice".into(),
                    ),
                ]),
                vec![],
            ),
            Self::InvalidToken(_) => (
                401,
                error(
                    "invalid_or_expired_token",
                    "the access token is invalid, expired or not bound to this client",
                ),
                vec![],
            ),
            Self::Redeem(e) => redeem_error(*e),
            Self::InvalidX402(refusal) => refusal.to_wire(),
            Self::InvalidMpp(refusal) => refusal.to_wire(),
            Self::PayloadTooLarge { limit } => (
                413,
                error(
                    "payload_too_large",
                    &format!("the body exceeds {limit} bytes"),
                ),
                vec![],
            ),
            Self::DependencyUnavailable(_) => (
                503,
                error(
                    "temporarily_unavailable",
                    "a gateway dependency failed; retry shortly",
                ),
                vec![(RETRY_AFTER_HEADER, DEPENDENCY_RETRY_AFTER_S.to_string())],
            ),
            Self::Misconfigured => (
                503,
                error(
                    "gateway_misconfigured",
                    "the gateway's configuration is invalid; see its log",
                ),
                vec![],
            ),
            Self::OriginUnreachable => (
                502,
                error("origin_unreachable", "the MCP origin could not be reached"),
                vec![],
            ),
            Self::OriginTimeout => (
                504,
                error("origin_timeout", "the MCP origin did not answer in time"),
                vec![],
            ),
            Self::NotFound => (404, error("not_found", "no such route"), vec![]),
            Self::MethodNotAllowed { allow } => (
                405,
                error("method_not_allowed", "method not allowed here"),
                vec![("allow", allow.to_string())],
            ),
            Self::AdminUnauthorized => (
                401,
                error(
                    "admin_unauthorized",
                    "a valid admin bearer secret is required",
                ),
                vec![(
                    WWW_AUTHENTICATE_HEADER,
                    "Basic realm=\"gatehouse-admin\", Bearer realm=\"gatehouse-admin\"".to_string(),
                )],
            ),
            Self::AdminDisabled => (
                404,
                error(
                    "admin_disabled",
                    "the admin API is off: set the ADMIN_SECRET secret",
                ),
                vec![],
            ),
            Self::UnsupportedMediaType { accept } => (
                415,
                error(
                    "unsupported_media_type",
                    &format!("the body must be sent as {accept}"),
                ),
                // RFC 9110 §15.5.16: `Accept` in a 415 names the media types that would do.
                vec![("accept", accept.to_string())],
            ),
            Self::CrossOrigin { .. } => (
                403,
                error(
                    "cross_origin_refused",
                    "state-changing requests are accepted only from this origin",
                ),
                vec![],
            ),
            Self::InvalidRequest(msg) => (400, error("invalid_request", msg), vec![]),
            Self::TokenScope => (
                403,
                error(
                    "token_scope",
                    "this access token admits only the tools it was issued for",
                ),
                vec![],
            ),
            Self::InvalidPolicy(reason) => (400, error("invalid_policy", reason), vec![]),
            Self::InvalidApiKey(_) => (
                401,
                error(
                    "invalid_api_key",
                    "the API key was not issued by this gateway, or was revoked",
                ),
                vec![],
            ),
            Self::TooManyCalls { limit } => (
                413,
                rpc_error(
                    None,
                    RPC_INVALID_REQUEST,
                    &format!("a request body may hold at most {limit} calls"),
                ),
                vec![],
            ),
            Self::Internal => (
                500,
                error(
                    "internal_error",
                    "the gateway failed unexpectedly; see its log",
                ),
                vec![],
            ),
        };
        if !headers.iter().any(|(k, _)| *k == "content-type") {
            headers.push(("content-type", "application/json".into()));
        }
        headers.push(("cache-control", "no-store".into()));
        Wire {
            status,
            headers,
            body,
        }
    }
}

fn rpc_error(id: Option<Value>, code: i64, message: &str) -> Value {
    let error = object([("code", code.into()), ("message", message.into())]);
    object([
        ("jsonrpc", "2.0".into()),
        ("id", id.unwrap_or(Value::Null)),
        ("error", error),
    ])
}

/// JSON-RPC 2.0 §5.1: -32700 for a body that is not JSON the gateway reads, -32600 for JSON
/// that is not a request it can decide on; the id is null, as the body was never read as one.
fn body_rejection(r: BodyRejection) -> (u16, Value, Vec<(&'static str, String)>) {
    let (status, code, message) = match r {
        BodyRejection::UnsupportedMediaType => (
            415,
            RPC_INVALID_REQUEST,
            "Unsupported Media Type: the body must be application/json in UTF-8",
        ),
        BodyRejection::ContentEncoding => (
            415,
            RPC_INVALID_REQUEST,
            "Unsupported Media Type: the body must not be content-encoded",
        ),
        // As `PayloadTooLarge`: the shell's capped read usually refuses first.
        BodyRejection::TooLarge => {
            let message = format!("the body exceeds {MAX_POLICY_BODY} bytes");
            return (413, error("payload_too_large", &message), vec![]);
        }
        BodyRejection::Json(_) => (400, RPC_PARSE_ERROR, "Parse error"),
        BodyRejection::Rpc(_) => (400, RPC_INVALID_REQUEST, "Invalid Request"),
    };
    let mut body = rpc_error(None, code, message);
    body["error"]["data"] = object([("reason", r.as_str().into())]);
    (status, body, vec![])
}

fn error(code: &str, message: &str) -> Value {
    object([("error", code.into()), ("message", message.into())])
}

#[cfg(test)]
mod tests;
