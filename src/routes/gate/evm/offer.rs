//! What the EIP-3009 rail offers this request: the x402 requirement, priced at the request's
//! cost, and the same as an MPP challenge, bound to this route, host and (over HTTP) body.

use gatehouse_core::policy::charge;
use gatehouse_core::rails::mpp::binding::body_digest;
use gatehouse_core::rails::mpp::{self, Issue, MppChallenge};
use gatehouse_core::rails::x402::X402Offer;

use super::super::Pass;

/// Over HTTP an MPP challenge binds the body it was asked for; inside MCP it cannot, since the
/// retry's body carries the credential.
pub(crate) enum Transport {
    Http,
    Mcp,
}

/// The x402 offer of this request, if x402 is configured: its amount is the request's cost.
pub(crate) fn offer(p: &Pass) -> Option<X402Offer> {
    let x = p.cfg.x402.as_ref()?;
    Some(X402Offer {
        resource: format!("{}{}", p.facts.audience, p.facts.path),
        requirement: x
            .settings
            .requirement(charge::credential_cost(p.route, &p.calls)),
    })
}

/// The MPP challenge of this request for `transport`, on the x402 rail: the same requirement,
/// bound to this route, this host and (over HTTP) this body, for the challenge TTL.
pub(crate) fn mpp_offer(p: &Pass, transport: Transport) -> Option<MppChallenge> {
    let x = p.cfg.x402.as_ref()?;
    let chain_id = mpp::chain_id(&x.settings.network)?;
    let requirement = x
        .settings
        .requirement(charge::credential_cost(p.route, &p.calls));
    Some(MppChallenge::issue(&Issue {
        keys: &p.cfg.token.keys,
        realm: &p.facts.host,
        route: &p.route.name,
        chain_id,
        requirement: &requirement,
        expires_ms: p.now_ms + u64::from(p.cfg.challenge_ttl_s) * 1_000,
        digest: match transport {
            Transport::Http => Some(body_digest(p.body.as_deref().unwrap_or_default())),
            Transport::Mcp => None,
        },
    }))
}
