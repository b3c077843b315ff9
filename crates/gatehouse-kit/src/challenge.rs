//! Which challenges the kit answers, and where (docs/PROTOCOL.md §1). A 402 is answered only
//! when the gateway marked it (`Gatehouse-Challenge`, which the gateway strips from every origin
//! response), and only at a `verify_url` of the same origin as the request that met it: the same
//! scheme, host and port (RFC 6454), compared after WHATWG URL parsing, never as string prefixes.
//! A relative `verify_url` resolves against the request's URL. A redemption carries the caller's
//! credentials, so answering anywhere else would hand them, and the payment, to whoever wrote
//! the 402.
//!
//! The kit's CLI pays an L402 invoice and prints the `Authorization` value that goes back to the
//! request's own URL; it never posts to a `verify_url`. These rules are for callers that do.

use url::Url;

/// The response header that marks a challenge as the gateway's own.
pub const MARKER_HEADER: &str = "gatehouse-challenge";

/// Whether a response's headers carry the gateway's marker.
pub fn is_marked(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim() == "1")
}

/// Where to redeem a challenge met at `request_url`: its `verify_url` resolved against the
/// request, if it is HTTP(S) on the request's origin; `None` means the challenge is not answered.
pub fn verify_url_for(request_url: &str, verify_url: &str) -> Option<Url> {
    let request = Url::parse(request_url).ok()?;
    let target = request.join(verify_url).ok()?;
    let web = |u: &Url| matches!(u.scheme(), "http" | "https");
    (web(&request) && web(&target) && request.origin() == target.origin()).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "https://gw.example/mcp?x=1";

    #[test]
    fn the_kit_and_the_gateway_agree_on_the_marker() {
        assert_eq!(
            MARKER_HEADER,
            gatehouse_core::wire::headers::CHALLENGE_MARKER_HEADER
        );
        assert!(is_marked(Some("1")));
        assert!(!is_marked(None));
        assert!(!is_marked(Some("0")));
    }

    #[test]
    fn a_verify_url_on_the_request_origin_is_answered() {
        for (verify, resolved) in [
            (
                "https://gw.example/api/verify-challenge",
                "https://gw.example/api/verify-challenge",
            ),
            (
                "https://GW.example:443/api/verify-challenge",
                "https://gw.example/api/verify-challenge",
            ),
            (
                "/api/verify-challenge",
                "https://gw.example/api/verify-challenge",
            ),
            ("verify", "https://gw.example/verify"),
        ] {
            assert_eq!(
                verify_url_for(REQUEST, verify).map(String::from).as_deref(),
                Some(resolved),
                "{verify}"
            );
        }
    }

    #[test]
    fn a_verify_url_anywhere_else_is_not() {
        for verify in [
            "https://evil.example/api/verify-challenge",
            "http://gw.example/api/verify-challenge",
            "https://gw.example:8443/api/verify-challenge",
            "https://gw.example.evil.example/api/verify-challenge",
            "https://gw.example@evil.example/api/verify-challenge",
            "//evil.example/api/verify-challenge",
            "https:\\\\evil.example\\api",
            "javascript:alert(1)",
            "data:text/plain,x",
            "file:///etc/passwd",
        ] {
            assert_eq!(verify_url_for(REQUEST, verify), None, "{verify}");
        }
    }

    #[test]
    fn a_request_that_is_not_http_answers_nothing() {
        assert_eq!(verify_url_for("file:///tmp/x", "/verify"), None);
        assert_eq!(verify_url_for("not a url", "/verify"), None);
    }
}
