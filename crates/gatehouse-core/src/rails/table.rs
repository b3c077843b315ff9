//! Every payment rail in one table (`RAILS`), and the one mapping from an offer's kind to its row:
//! what the gateway needs to know about a rail without naming it.

use super::challenge::{self, Offer, OfferKind};
use super::{mpp, x402};

/// What a rail needs configured before it can be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// A Lightning backend (`LIGHTNING_*`).
    Lightning,
    /// A token and a facilitator on an EVM chain (`X402_*`), which x402 and MPP share.
    EvmToken,
}

impl Needs {
    /// What an operator is told is missing.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Nothing => "nothing",
            Self::Lightning => "a configured Lightning backend",
            Self::EvmToken => "the X402_* settings and a facilitator",
        }
    }
}

/// What making one offer costs the gateway, which decides whether minting it is budgeted per
/// address and whether a failing backend can be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minting {
    /// A challenge row in D1.
    Stored,
    /// A challenge row and an invoice from the Lightning backend.
    Invoiced,
    /// Nothing: the offer is a pure function of the request and the configuration.
    Stateless,
}

/// One rail, as the rest of the gateway sees it.
#[derive(Debug)]
pub struct Rail {
    pub kind: OfferKind,
    /// Its name in `CHALLENGE_OFFERS`, policies and runtime offers, and its offers' `type` in a
    /// 402 body's `challenges`.
    pub name: &'static str,
    pub needs: Needs,
    pub minting: Minting,
    /// How a client gets through on it, for a model reading an in-band answer.
    pub way: &'static str,
    /// The 402 body's `instructions` when it is the first offer.
    pub instructions: &'static str,
}

/// Every rail, in the order an unconfigured list names them.
pub static RAILS: [Rail; 4] = [
    Rail {
        kind: OfferKind::Pow,
        name: challenge::POW_TYPE,
        needs: Needs::Nothing,
        minting: Minting::Stored,
        way: "solve the proof of work (a SHA-256 puzzle; no money)",
        instructions: "Find a decimal nonce such that sha256(salt + nonce) has at least \
`difficulty` leading zero bits, POST {\"challenge_id\", \"solution\": {\"nonce\"}} to verify_url, \
then send the returned access_token in the x-access-token header.",
    },
    Rail {
        kind: OfferKind::L402,
        name: challenge::L402_TYPE,
        needs: Needs::Lightning,
        minting: Minting::Invoiced,
        way: "pay the Lightning invoice (L402)",
        instructions: "Pay the invoice, then either send `Authorization: L402 \
<macaroon>:<preimage hex>`, or POST {\"challenge_id\", \"payment_proof\": {\"preimage\"}} to \
verify_url and send the returned access_token in the x-access-token header.",
    },
    Rail {
        kind: OfferKind::X402,
        name: x402::X402_TYPE,
        needs: Needs::EvmToken,
        minting: Minting::Stateless,
        way: "pay with x402 (the `accepts` of structuredContent, sent back in _meta[\"x402/payment\"])",
        instructions: "Pay with x402 v2: sign the `exact` requirement of the \
PAYMENT-REQUIRED header (EIP-3009) and send the same request again with the PAYMENT-SIGNATURE \
header; the answer carries PAYMENT-RESPONSE. One payment pays for that one request.",
    },
    Rail {
        kind: OfferKind::Mpp,
        name: mpp::MPP_TYPE,
        needs: Needs::EvmToken,
        minting: Minting::Stateless,
        way: "pay the MPP challenge (_meta[\"org.paymentauth/payment-required\"], the credential sent back in _meta[\"org.paymentauth/credential\"])",
        instructions: "Pay the `Payment` challenge of the WWW-Authenticate header (MPP, \
method evm, intent charge: an EIP-3009 authorization) and send the same request again with \
`Authorization: Payment <credential>`; the answer carries Payment-Receipt. One payment pays for \
that one request.",
    },
];

impl OfferKind {
    /// This kind's row of [`RAILS`].
    pub fn rail(&self) -> &'static Rail {
        match self {
            Self::Pow => &RAILS[0],
            Self::L402 => &RAILS[1],
            Self::X402 => &RAILS[2],
            Self::Mpp => &RAILS[3],
        }
    }

    /// The kind named so in `offers` lists and `CHALLENGE_OFFERS`.
    pub fn parse(name: &str) -> Option<Self> {
        RAILS.iter().find(|r| r.name == name).map(|r| r.kind)
    }

    pub fn as_str(&self) -> &'static str {
        self.rail().name
    }
}

impl Offer {
    pub fn kind(&self) -> OfferKind {
        match self {
            Self::Pow(_) => OfferKind::Pow,
            Self::L402(_) => OfferKind::L402,
            Self::X402(_) => OfferKind::X402,
            Self::Mpp(_) => OfferKind::Mpp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_its_kinds_and_every_name_reads_back() {
        for (i, rail) in RAILS.iter().enumerate() {
            assert!(std::ptr::eq(rail.kind.rail(), &RAILS[i]), "{}", rail.name);
            assert_eq!(OfferKind::parse(rail.name), Some(rail.kind));
            assert_eq!(rail.kind.as_str(), rail.name);
        }
        assert_eq!(OfferKind::parse("Pow"), None);
        assert_eq!(OfferKind::parse(""), None);
    }
}
