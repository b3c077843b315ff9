//! Every `Denial` the core can give, for `wire.rs`: at least one of each variant, and one of each
//! variant of the errors they carry whose mapping differs.

use gatehouse_core::credentials::api_key::KeyRejection;
use gatehouse_core::credentials::token::TokenRejection;
use gatehouse_core::mcp::revision::Revision;
use gatehouse_core::mcp::{BodyRejection, RpcRejection};
use gatehouse_core::metering::quota::{decide, Policy, QuotaState, Window};
use gatehouse_core::rails::challenge::{L402Offer, Offer, PowChallenge, RedeemError, VERIFY_PATH};
use gatehouse_core::rails::l402::credential::L402Rejection;
use gatehouse_core::rails::mpp::refusal::MppRefusal;
use gatehouse_core::rails::mpp::{Issue, MppChallenge};
use gatehouse_core::rails::x402::{self, Refusal, Rejection, X402Offer, X402Settings};
use gatehouse_core::wire::denial::{Answer, Denial, Dependency, InBandCall};
use gatehouse_core::wire::json_strict::JsonRejection;
use serde_json::json;

/// Each variant's number; exhaustive, so a new variant must be counted here.
pub fn variant(d: &Denial) -> usize {
    match d {
        Denial::QuotaExhausted { .. } => 0,
        Denial::McpHeaderMismatch { .. } => 1,
        Denial::Body(_) => 2,
        Denial::SessionNotFound => 3,
        Denial::InvalidToken(_) => 4,
        Denial::InvalidL402(_) => 5,
        Denial::OAuthUnauthorized { .. } => 6,
        Denial::InsufficientScope { .. } => 7,
        Denial::Redeem(_) => 8,
        Denial::PayloadTooLarge { .. } => 9,
        Denial::DependencyUnavailable(_) => 10,
        Denial::Misconfigured => 11,
        Denial::OriginUnreachable => 12,
        Denial::OriginTimeout => 13,
        Denial::NotFound => 14,
        Denial::MethodNotAllowed { .. } => 15,
        Denial::AdminUnauthorized => 16,
        Denial::AdminDisabled => 17,
        Denial::UnsupportedMediaType { .. } => 18,
        Denial::CrossOrigin { .. } => 19,
        Denial::InvalidRequest(_) => 20,
        Denial::TokenScope => 21,
        Denial::InvalidApiKey(_) => 22,
        Denial::TooManyCalls { .. } => 23,
        Denial::InvalidPolicy(_) => 24,
        Denial::Internal => 25,
        Denial::InvalidX402(_) => 26,
        Denial::InvalidMpp(_) => 27,
    }
}
pub const VARIANTS: usize = 28;

pub fn exhausted(answer: Answer) -> Denial {
    let policy = Policy::new(vec![Window::new("minute", 1, 60).unwrap()]).unwrap();
    let (state, _) = decide(&policy, &QuotaState::default(), 1, 0);
    let (_, decision) = decide(&policy, &state, 1, 44_000);
    let l402 = L402Offer {
        challenge_id: "ef".repeat(16),
        macaroon: "AgJCAAA=".into(),
        invoice: "lnbcrt10n1x".into(),
        payment_hash: "00".repeat(32),
        amount_sats: 1,
        expires_at_ms: 104_000,
    };
    Denial::QuotaExhausted {
        policy,
        decision,
        offers: vec![
            Offer::L402(l402),
            Offer::Pow(PowChallenge::new(&[7u8; 32], 14, 44_000, 60)),
            Offer::X402(x402_offer()),
            Offer::Mpp(Box::new(mpp_challenge())),
        ],
        verify_url: format!("https://gw.example{VERIFY_PATH}"),
        answer,
    }
}

fn x402_offer() -> X402Offer {
    let settings = X402Settings {
        network: "eip155:31337".into(),
        asset: format!("0x{}", "ab".repeat(20)),
        pay_to: format!("0x{}", "cd".repeat(20)),
        price_per_call: 10,
        asset_name: "Local Dollar".into(),
        asset_version: "2".into(),
        max_timeout_s: 60,
    };
    X402Offer {
        resource: "https://gw.example/mcp".into(),
        requirement: settings.requirement(1),
    }
}

/// The MPP challenge for the same requirement.
pub fn mpp_challenge() -> MppChallenge {
    let keys = gatehouse_core::credentials::keys::parse_key_ring(
        "k1:test-signing-key-0123456789abcdef0123456789",
    )
    .expect("a test key");
    MppChallenge::issue(&Issue {
        keys: &keys,
        realm: "gw.example",
        route: "default",
        chain_id: 31337,
        requirement: &x402_offer().requirement,
        expires_ms: 1_800_000_000_000,
        digest: None,
    })
}

/// At least one of every variant, and every variant of the errors they carry whose mapping
/// differs (redemption failures, body rejections, dependencies, the quota answers).
pub fn every_denial() -> Vec<Denial> {
    let mut all = vec![
        exhausted(Answer::PaymentRequired),
        exhausted(Answer::TooManyRequests),
        exhausted(Answer::InBand {
            calls: vec![InBandCall {
                id: json!(1),
                tool_call: false,
            }],
            batch: false,
            revision: Revision::V2025_06_18,
        }),
        exhausted(Answer::InBand {
            calls: vec![
                InBandCall {
                    id: json!(1),
                    tool_call: true,
                },
                InBandCall {
                    id: json!("two"),
                    tool_call: false,
                },
            ],
            batch: true,
            revision: Revision::V2026_07_28,
        }),
        Denial::McpHeaderMismatch { id: Some(json!(3)) },
        Denial::Body(BodyRejection::UnsupportedMediaType),
        Denial::Body(BodyRejection::TooLarge),
        Denial::Body(BodyRejection::Json(JsonRejection::Syntax)),
        Denial::Body(BodyRejection::Rpc(RpcRejection::Version)),
        Denial::SessionNotFound,
        Denial::InvalidToken(TokenRejection::Expired),
        Denial::InvalidL402(L402Rejection::WrongPreimage),
        Denial::OAuthUnauthorized {
            www_authenticate: "Bearer resource_metadata=\"x\"".into(),
            reason: None,
        },
        Denial::OAuthUnauthorized {
            www_authenticate: "Bearer error=\"invalid_token\"".into(),
            reason: Some("expired"),
        },
        Denial::InsufficientScope {
            www_authenticate: "Bearer error=\"insufficient_scope\"".into(),
        },
        Denial::PayloadTooLarge { limit: 4_096 },
        Denial::Misconfigured,
        Denial::OriginUnreachable,
        Denial::OriginTimeout,
        Denial::NotFound,
        Denial::MethodNotAllowed { allow: "POST" },
        Denial::AdminUnauthorized,
        Denial::AdminDisabled,
        Denial::UnsupportedMediaType {
            accept: "application/json",
        },
        Denial::CrossOrigin { reason: "origin" },
        Denial::InvalidRequest("bad"),
        Denial::TokenScope,
        Denial::InvalidApiKey(KeyRejection::Revoked),
        Denial::TooManyCalls { limit: 100 },
        Denial::InvalidPolicy("bad".into()),
        Denial::Internal,
        Denial::InvalidX402(Box::new(Refusal {
            rejection: Rejection::Malformed("bad"),
            offer: None,
            settlement: None,
            in_band: None,
        })),
        Denial::InvalidX402(Box::new(Refusal {
            rejection: Rejection::Replayed,
            offer: Some(x402_offer()),
            settlement: None,
            in_band: Some(x402::mcp::InBandReply {
                id: json!(5),
                revision: Revision::V2026_07_28,
            }),
        })),
        // The same rail's refusals told over MPP: over HTTP, and inside MCP.
        Denial::InvalidMpp(Box::new(MppRefusal {
            rejection: Rejection::Challenge("the challenge was issued for another route"),
            fresh: Some(mpp_challenge()),
            in_band: None,
        })),
        Denial::InvalidMpp(Box::new(MppRefusal {
            rejection: Rejection::Replayed,
            fresh: Some(mpp_challenge()),
            in_band: Some(x402::mcp::InBandReply {
                id: json!(6),
                revision: Revision::V2025_11_25,
            }),
        })),
        Denial::InvalidX402(Box::new(Refusal {
            rejection: Rejection::SettleFailed("insufficient_funds".into()),
            offer: Some(x402_offer()),
            settlement: Some(x402::facilitator::failed_settlement(
                "insufficient_funds",
                "eip155:31337",
                "0x00",
            )),
            in_band: None,
        })),
    ];
    all.extend(
        [
            RedeemError::InvalidRequest("bad"),
            RedeemError::NotFound,
            RedeemError::InvalidSolution,
            RedeemError::Expired,
            RedeemError::AlreadyRedeemed,
        ]
        .map(Denial::Redeem),
    );
    all.extend(
        [
            Dependency::QuotaStore,
            Dependency::ChallengeStore,
            Dependency::RevocationStore,
            Dependency::InvoiceBackend,
            Dependency::AuthorizationServer,
            Dependency::Facilitator,
        ]
        .map(Denial::DependencyUnavailable),
    );
    all
}
