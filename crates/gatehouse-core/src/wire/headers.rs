//! Which headers cross the gateway (RFC 9110 §7.6.1 and MCP Streamable HTTP).
//!
//! Hop-by-hop fields, and any field the `Connection` header names, stop at the gateway in both
//! directions. The client's credentials for the gateway (`Authorization`, `x-access-token`) never
//! reach the origin: passing a token through would let the origin, or anyone it forwards to,
//! replay it (MCP authorization, "token passthrough"). Everything else, including
//! `Mcp-Session-Id`, `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and `Last-Event-ID`, passes
//! unchanged. `Host` and `Content-Length` are the runtime's to set for the new hop.
//!
//! `Gatehouse-Challenge` marks the gateway's own challenges (docs/PROTOCOL.md §1): the client kit
//! answers only challenges that carry it, so the gateway strips it from every origin response.
//! An origin's own 402 still reaches the client, unmarked.
//!
//! Every public name here is also in `clients/js/wire.json`, the list the clients read
//! (docs/PROTOCOL.md §7); this crate's `tests/wire.rs` holds the two equal.

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where a client sends the access token a redemption bought (docs/PROTOCOL.md §1).
pub const ACCESS_TOKEN_HEADER: &str = "x-access-token";
const GATEWAY_CREDENTIALS: &[&str] = &[
    "authorization",
    ACCESS_TOKEN_HEADER,
    // An x402 payment is for the gateway (v2 header, and v1's, which it does not read).
    crate::rails::x402::PAYMENT_SIGNATURE_HEADER,
    "x-payment",
];

/// Headers addressed to the gateway itself: a client declaring that it handles HTTP 402.
pub const ACCEPT_402_HEADER: &str = "gatehouse-accept";
/// The `Gatehouse-Accept` value (one of a comma-separated list) that declares it.
pub const ACCEPT_402_VALUE: &str = "402";
/// A client's time budget for a challenge, in seconds (`gatehouse_core::rails::difficulty`).
pub const TIME_BUDGET_HEADER: &str = "gatehouse-time-budget";
const GATEWAY_ONLY: &[&str] = &[ACCEPT_402_HEADER, TIME_BUDGET_HEADER];

/// Fields that would make the origin read the request otherwise than the gateway judged it: a
/// content coding (the gateway forwards the bytes it read, which a POST must send unencoded),
/// and the method overrides some frameworks honour (the gateway judged the method it saw).
const REREADING: &[&str] = &[
    "content-encoding",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Set on the gateway's 402 and in-band challenge answers, and only on them: an origin cannot set
/// it, so a client can tell a challenge the gateway issued from one an origin forged.
pub const CHALLENGE_MARKER_HEADER: &str = "gatehouse-challenge";
/// The marker's one value.
pub const CHALLENGE_MARKER_VALUE: &str = "1";

/// MCP Streamable HTTP's session and routing fields (docs/PROTOCOL.md §4).
pub const SESSION_ID_HEADER: &str = "mcp-session-id";
pub const MCP_METHOD_HEADER: &str = "mcp-method";
pub const MCP_NAME_HEADER: &str = "mcp-name";

/// The rate-limit fields (draft-ietf-httpapi-ratelimit-headers, docs/PROTOCOL.md §5).
pub const RATELIMIT_HEADER: &str = "ratelimit";
pub const RATELIMIT_POLICY_HEADER: &str = "ratelimit-policy";
/// RFC 9110 §10.2.3.
pub const RETRY_AFTER_HEADER: &str = "retry-after";
/// RFC 9110 §11.6.1: one field per challenge offered.
pub const WWW_AUTHENTICATE_HEADER: &str = "www-authenticate";

const SET_BY_RUNTIME: &[&str] = &["host", "content-length"];

/// The lowercased field names listed in a `Connection` header value.
/// Only tokens that can be field names (RFC 9110 §5.1) are kept: anything else names no field,
/// and handing it to the runtime's header API would fail the request.
pub fn connection_tokens(connection: Option<&str>) -> Vec<String> {
    connection
        .unwrap_or("")
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t.bytes().all(is_token_char))
        .collect()
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Every header name to remove from a copy of the client's request headers before it goes to the
/// origin. The Worker copies the headers whole and deletes those of these names the request
/// carries, which is cheaper in the runtime than rebuilding the list field by field.
pub fn dropped_toward_origin(connection: Option<&str>) -> Vec<String> {
    let fixed = HOP_BY_HOP
        .iter()
        .chain(GATEWAY_CREDENTIALS)
        .chain(GATEWAY_ONLY)
        .chain(REREADING)
        .chain(SET_BY_RUNTIME);
    fixed
        .map(|n| n.to_string())
        .chain(connection_tokens(connection))
        .collect()
}

/// Every header name to remove from a copy of the origin's response headers. The gateway's own
/// rate-limit and payment fields replace any the origin sent, so the client sees one consistent
/// story.
pub fn dropped_toward_client(connection: Option<&str>) -> Vec<String> {
    let fixed = HOP_BY_HOP.iter().chain(SET_BY_RUNTIME).chain(&[
        RATELIMIT_HEADER,
        RATELIMIT_POLICY_HEADER,
        // Earlier drafts' and de facto rate-limit fields, which would tell another story.
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        CHALLENGE_MARKER_HEADER,
        // What was asked and paid is the gateway's to say: an origin cannot fake a settlement.
        crate::rails::x402::PAYMENT_REQUIRED_HEADER,
        crate::rails::x402::PAYMENT_RESPONSE_HEADER,
        // x402 version 1's name for the settlement, which its clients still read.
        "x-payment-response",
        crate::rails::mpp::RECEIPT_HEADER,
    ]);
    fixed
        .map(|n| n.to_string())
        .chain(connection_tokens(connection))
        .collect()
}

/// Whether a request header (lowercase name) goes on to the origin.
pub fn forward_to_origin(name: &str, connection: Option<&str>) -> bool {
    !dropped_toward_origin(connection).iter().any(|d| d == name)
}

/// Whether an origin response header (lowercase name) goes back to the client.
pub fn forward_to_client(name: &str, connection: Option<&str>) -> bool {
    !dropped_toward_client(connection).iter().any(|d| d == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn connection_tokens_that_name_no_field_are_ignored() {
        assert_eq!(
            super::connection_tokens(Some("foo bar, keep-alive, x(y), a@b, X-Trace")),
            ["keep-alive", "x-trace"]
        );
    }

    #[test]
    fn codings_and_method_overrides_never_reach_the_origin() {
        let dropped = super::dropped_toward_origin(None);
        for name in [
            "content-encoding",
            "x-http-method-override",
            "x-method-override",
        ] {
            assert!(dropped.iter().any(|d| d == name), "{name}");
        }
    }

    use super::*;

    /// The runtime side finds which of these a message carries by its header names, which
    /// `Headers` gives lowercased (`edge.mjs`'s `present` and `toward_client`): a name here with
    /// a capital would be missed, not dropped. The names a `Connection` field lists are
    /// lowercased by `connection_tokens` for the same reason.
    #[test]
    fn every_dropped_name_is_a_lowercase_field_name() {
        let both = dropped_toward_origin(None).into_iter();
        for name in both.chain(dropped_toward_client(None)) {
            assert!(!name.is_empty(), "an empty name");
            assert_eq!(name, name.to_ascii_lowercase(), "{name}");
            assert!(name.bytes().all(is_token_char), "{name}");
        }
    }

    #[test]
    fn mcp_headers_pass_to_the_origin() {
        for name in [
            "mcp-session-id",
            "mcp-protocol-version",
            "mcp-method",
            "mcp-name",
            "last-event-id",
            "accept",
            "content-type",
        ] {
            assert!(forward_to_origin(name, None), "{name}");
        }
    }

    #[test]
    fn an_origin_cannot_speak_for_the_gateway_about_payment() {
        for name in [
            "payment-required",
            "payment-response",
            "x-payment-response",
            "payment-receipt",
        ] {
            assert!(!forward_to_client(name, None), "{name}");
        }
    }

    #[test]
    fn gateway_credentials_never_reach_the_origin() {
        assert!(!forward_to_origin("authorization", None));
        assert!(!forward_to_origin("x-access-token", None));
        assert!(
            forward_to_client("x-access-token", None),
            "only the request direction strips it"
        );
    }

    #[test]
    fn hop_by_hop_fields_and_those_named_by_connection_stop_both_ways() {
        let connection = Some("Keep-Alive, X-Private-Hop");
        for name in [
            "connection",
            "te",
            "transfer-encoding",
            "upgrade",
            "keep-alive",
            "x-private-hop",
        ] {
            assert!(!forward_to_origin(name, connection), "{name}");
            assert!(!forward_to_client(name, connection), "{name}");
        }
        assert!(forward_to_origin("x-private-hop", None));
    }

    #[test]
    fn origin_rate_limit_fields_are_replaced_not_merged() {
        assert!(!forward_to_client("ratelimit", None));
        for legacy in [
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "x-ratelimit-remaining",
        ] {
            assert!(!forward_to_client(legacy, None), "{legacy}");
        }
        assert!(forward_to_client("mcp-session-id", None));
        assert!(forward_to_client("content-type", None));
        assert!(forward_to_client("www-authenticate", None));
    }

    #[test]
    fn an_origin_cannot_mark_its_answer_as_a_gateway_challenge() {
        assert!(!forward_to_client(CHALLENGE_MARKER_HEADER, None));
        assert!(
            forward_to_client("www-authenticate", None),
            "the origin's own challenge still passes, unmarked"
        );
    }
}
