//! A denial as the operator's log names it (`Denial::log_detail`): its reason where it carries one,
//! else its variant's name.

use super::Denial;

impl Denial {
    /// The operator-facing reason, for the structured log line.
    pub fn log_detail(&self) -> String {
        match self {
            Self::InvalidToken(r) => format!("invalid_token:{}", r.as_str()),
            Self::InvalidL402(r) => format!("invalid_l402:{}", r.as_str()),
            Self::InvalidX402(r) => format!("invalid_x402:{}", r.rejection.code()),
            Self::InvalidMpp(r) => format!("invalid_mpp:{}", r.rejection.code()),
            Self::InvalidApiKey(r) => format!("invalid_api_key:{}", r.as_str()),
            Self::OAuthUnauthorized { reason, .. } => {
                format!("oauth_unauthorized:{}", reason.unwrap_or("no_token"))
            }
            Self::DependencyUnavailable(d) => format!("dependency_unavailable:{}", d.as_str()),
            Self::Redeem(e) => format!("redeem:{e:?}"),
            Self::CrossOrigin { reason } => format!("cross_origin:{reason}"),
            Self::Body(r) => format!("body:{}", r.as_str()),
            other => other.variant().to_string(),
        }
    }

    /// The variant's name, as the log shows a denial that carries no reason of its own. A match
    /// and not the derived `Debug`, whose code for every type a denial holds would be in the Wasm.
    fn variant(&self) -> &'static str {
        match self {
            Self::QuotaExhausted { .. } => "QuotaExhausted",
            Self::McpHeaderMismatch { .. } => "McpHeaderMismatch",
            Self::Body(_) => "Body",
            Self::SessionNotFound => "SessionNotFound",
            Self::InvalidToken(_) => "InvalidToken",
            Self::InvalidL402(_) => "InvalidL402",
            Self::InvalidX402(_) => "InvalidX402",
            Self::InvalidMpp(_) => "InvalidMpp",
            Self::OAuthUnauthorized { .. } => "OAuthUnauthorized",
            Self::InsufficientScope { .. } => "InsufficientScope",
            Self::Redeem(_) => "Redeem",
            Self::PayloadTooLarge { .. } => "PayloadTooLarge",
            Self::DependencyUnavailable(_) => "DependencyUnavailable",
            Self::Misconfigured => "Misconfigured",
            Self::OriginUnreachable => "OriginUnreachable",
            Self::OriginTimeout => "OriginTimeout",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed { .. } => "MethodNotAllowed",
            Self::AdminUnauthorized => "AdminUnauthorized",
            Self::AdminDisabled => "AdminDisabled",
            Self::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            Self::CrossOrigin { .. } => "CrossOrigin",
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::TokenScope => "TokenScope",
            Self::InvalidApiKey(_) => "InvalidApiKey",
            Self::TooManyCalls { .. } => "TooManyCalls",
            Self::InvalidPolicy(_) => "InvalidPolicy",
            Self::Internal => "Internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::BodyRejection;
    use crate::rails::challenge::RedeemError;
    use crate::wire::denial::Dependency;

    #[test]
    fn a_variant_is_named_as_its_debug_form_begins() {
        let denials = [
            Denial::McpHeaderMismatch { id: None },
            Denial::Body(BodyRejection::TooLarge),
            Denial::SessionNotFound,
            Denial::InsufficientScope {
                www_authenticate: "Bearer".into(),
            },
            Denial::Redeem(RedeemError::Expired),
            Denial::PayloadTooLarge { limit: 1 },
            Denial::DependencyUnavailable(Dependency::QuotaStore),
            Denial::Misconfigured,
            Denial::OriginUnreachable,
            Denial::OriginTimeout,
            Denial::NotFound,
            Denial::MethodNotAllowed { allow: "POST" },
            Denial::AdminUnauthorized,
            Denial::AdminDisabled,
            Denial::UnsupportedMediaType { accept: "x" },
            Denial::CrossOrigin { reason: "x" },
            Denial::InvalidRequest("x"),
            Denial::TokenScope,
            Denial::TooManyCalls { limit: 1 },
            Denial::InvalidPolicy("x".into()),
            Denial::Internal,
        ];
        for d in denials {
            let debug = format!("{d:?}");
            let first = debug.split([' ', '{', '(']).next().unwrap();
            assert_eq!(d.variant(), first);
        }
        assert_eq!(
            Denial::TooManyCalls { limit: 3 }.log_detail(),
            "TooManyCalls"
        );
    }
}
