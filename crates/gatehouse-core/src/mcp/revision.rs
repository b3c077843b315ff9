//! The MCP revision a request speaks, so that the gateway's own answers use only what that
//! revision defines or permits (docs/PROTOCOL.md §4, §6 "JSON-RPC error codes by MCP revision").
//!
//! The revision is in the `MCP-Protocol-Version` header (Streamable HTTP, from 2025-06-18 on; its
//! absence means 2025-03-26) and, from 2026-07-28 on, in each request's
//! `_meta["io.modelcontextprotocol/protocolVersion"]`, which wins when both are there. A revision
//! newer than any the gateway knows, or one it cannot read, is answered under the newest rules,
//! which are the strictest; no header at all is 2025-03-26.

/// The `_meta` key of a request's revision under MCP 2026-07-28.
pub const REVISION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Revision {
    /// 2025-03-26, and anything older.
    V2025_03_26,
    V2025_06_18,
    /// Defines -32042 as "URL elicitation required".
    V2025_11_25,
    /// Reserves -32020…-32099, forbids emitting -32042, and gives every result a `resultType`.
    V2026_07_28,
}

impl Revision {
    /// The revision named by `meta` (the request's `_meta`) or else `header`.
    pub fn of(header: Option<&str>, meta: Option<&str>) -> Self {
        match meta.or(header).map(str::trim) {
            Some(v) if v >= "2026-07-28" || !is_date(v) => Self::V2026_07_28,
            Some(v) if v >= "2025-11-25" => Self::V2025_11_25,
            Some(v) if v >= "2025-06-18" => Self::V2025_06_18,
            _ => Self::V2025_03_26,
        }
    }

    /// Whether results carry `resultType` (MCP 2026-07-28).
    pub fn typed_results(self) -> bool {
        self >= Self::V2026_07_28
    }
}

/// `YYYY-MM-DD`, the form every revision's name has.
fn is_date(v: &str) -> bool {
    v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_read_from_meta_then_the_header() {
        assert_eq!(Revision::of(None, None), Revision::V2025_03_26);
        assert_eq!(
            Revision::of(Some("2025-06-18"), None),
            Revision::V2025_06_18
        );
        assert_eq!(
            Revision::of(Some("2025-11-25"), None),
            Revision::V2025_11_25
        );
        assert_eq!(
            Revision::of(Some("2025-06-18"), Some("2026-07-28")),
            Revision::V2026_07_28
        );
        assert_eq!(
            Revision::of(Some("2027-01-01"), None),
            Revision::V2026_07_28
        );
        assert_eq!(Revision::of(Some("garbage"), None), Revision::V2026_07_28);
        assert_eq!(
            Revision::of(Some("1999-01-01"), None),
            Revision::V2025_03_26
        );
        assert!(Revision::V2026_07_28.typed_results() && !Revision::V2025_11_25.typed_results());
    }
}
