//! A refused MPP credential on the wire (draft-ryan-httpauth-payment, "Error Responses"; the MCP
//! transport draft): over HTTP a `402` with its problem details (`problem.rs`) and a fresh
//! `Payment` challenge in `WWW-Authenticate`; inside MCP a tool result with `isError: true`
//! whose `_meta["org.paymentauth/payment-required"]` carries the fresh challenge and the problem,
//! where MPP's MCP clients look for it.

use serde_json::Value;

use super::{MppChallenge, PAYMENT_REQUIRED_META_KEY};
use crate::rails::x402::mcp::InBandReply;
use crate::rails::x402::Rejection;
use crate::wire::json_object::object;

const WWW_AUTHENTICATE: &str = "www-authenticate";

/// A refused credential, with what the client needs to pay again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MppRefusal {
    pub rejection: Rejection,
    /// The challenge this request would be offered now.
    pub fresh: Option<MppChallenge>,
    /// Set when the credential came inside MCP: the refusal is told there.
    pub in_band: Option<InBandReply>,
}

impl MppRefusal {
    pub fn to_wire(&self) -> (u16, Value, Vec<(&'static str, String)>) {
        let problem =
            super::problem::body(&self.rejection, self.fresh.as_ref().map(|c| c.id.as_str()));
        if let Some(reply) = &self.in_band {
            return (200, self.in_mcp(reply, problem), Vec::new());
        }
        let mut headers = vec![("content-type", "application/problem+json".to_string())];
        if let Some(challenge) = &self.fresh {
            headers.push((WWW_AUTHENTICATE, challenge.header()));
        }
        (402, problem, headers)
    }

    fn in_mcp(&self, reply: &InBandReply, problem: Value) -> Value {
        let mut required = self
            .fresh
            .as_ref()
            .map(MppChallenge::payment_required_meta)
            .unwrap_or_else(|| object([("httpStatus", 402.into())]));
        if let Some(o) = required.as_object_mut() {
            o.insert("problem".into(), problem.clone());
        }
        let text = format!(
            "Payment refused: {} Pay the fresh challenge in _meta[\"{PAYMENT_REQUIRED_META_KEY}\"] to call the tool.",
            self.rejection.message(),
        );
        let mut result = object([
            ("isError", true.into()),
            (
                "content",
                vec![object([("type", "text".into()), ("text", text.into())])].into(),
            ),
            ("structuredContent", problem),
            ("_meta", object([(PAYMENT_REQUIRED_META_KEY, required)])),
        ]);
        if let (true, Some(o)) = (reply.revision.typed_results(), result.as_object_mut()) {
            o.insert("resultType".into(), "complete".into());
        }
        object([
            ("jsonrpc", "2.0".into()),
            ("id", reply.id.clone()),
            ("result", result),
        ])
    }
}
