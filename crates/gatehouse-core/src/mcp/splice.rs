//! Adding one member to the `_meta` of a JSON-RPC result by splicing bytes, not by
//! re-serializing: the client gets the origin's bytes with the member in them, so every number,
//! key order and spelling it reads is the origin's own (a re-serialization would turn `1E5` into
//! `100000.0` and round integers past 2^53). A member of the same name the origin wrote is
//! replaced, so the client sees one, the gateway's.

use serde_json::Value;

use super::in_band::{find, members, ws};

/// The message with `key: value` in `result._meta`, when it is the response to request `id`
/// with a result object; `None` otherwise (another id, an error, not well-formed JSON).
pub fn add_to_result_meta(body: &[u8], id: &Value, key: &str, value: &Value) -> Option<Vec<u8>> {
    // The scanner assumes well-formed JSON; an answer that is not is left as it came.
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let start = ws(body, 0);
    if body.get(start) != Some(&b'{') {
        return None;
    }
    let top = members(body, start)?;
    let sent_id: Value =
        find(&top, "id").and_then(|m| serde_json::from_slice(&body[m.value.0..m.value.1]).ok())?;
    if sent_id != *id {
        return None;
    }
    let result = find(&top, "result")?.value.0;
    if body[result] != b'{' {
        return None;
    }
    let member = format!("{}:{}", Value::from(key), value);
    let in_result = members(body, result)?;
    let (at, text) = match find(&in_result, "_meta") {
        Some(meta) if body[meta.value.0] == b'{' => {
            let in_meta = members(body, meta.value.0)?;
            if let Some(same) = find(&in_meta, key) {
                // The origin's own: its value replaced by the gateway's.
                return Some(splice(body, same.value, &value.to_string()));
            }
            let comma = if in_meta.is_empty() { "" } else { "," };
            (meta.value.0 + 1, format!("{member}{comma}"))
        }
        // `_meta` that is no object: the result is not one the gateway can add to.
        Some(_) => return None,
        None => {
            let comma = if in_result.is_empty() { "" } else { "," };
            (result + 1, format!("\"_meta\":{{{member}}}{comma}"))
        }
    };
    Some(splice(body, (at, at), &text))
}

fn splice(body: &[u8], (from, to): (usize, usize), text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + text.len());
    out.extend_from_slice(&body[..from]);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&body[to..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add(body: &str) -> Option<String> {
        add_to_result_meta(body.as_bytes(), &json!(1), "k", &json!({"ok": true}))
            .map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn every_byte_of_the_origin_stays_and_the_member_is_added() {
        assert_eq!(
            add(r#"{"z":1,"id":1,"result":{"n":1E5,"big":123456789012345678901234567890}}"#)
                .unwrap(),
            r#"{"z":1,"id":1,"result":{"_meta":{"k":{"ok":true}},"n":1E5,"big":123456789012345678901234567890}}"#
        );
        assert_eq!(
            add(r#"{"id":1,"result":{}}"#).unwrap(),
            r#"{"id":1,"result":{"_meta":{"k":{"ok":true}}}}"#
        );
        assert_eq!(
            add(r#"{"id":1,"result":{"_meta":{"a":0.10000000000000000555}}}"#).unwrap(),
            r#"{"id":1,"result":{"_meta":{"k":{"ok":true},"a":0.10000000000000000555}}}"#
        );
        assert_eq!(
            add(r#"{"id":1,"result":{"_meta":{ }}}"#).unwrap(),
            r#"{"id":1,"result":{"_meta":{"k":{"ok":true} }}}"#
        );
    }

    #[test]
    fn the_origins_own_member_is_replaced() {
        assert_eq!(
            add(r#"{"id":1,"result":{"_meta":{"k":"forged","b":2}}}"#).unwrap(),
            r#"{"id":1,"result":{"_meta":{"k":{"ok":true},"b":2}}}"#
        );
    }

    #[test]
    fn anything_else_is_left_alone() {
        for body in [
            r#"{"id":2,"result":{}}"#,
            r#"{"id":"1","result":{}}"#,
            r#"{"id":1,"error":{"code":1}}"#,
            r#"{"id":1,"result":[]}"#,
            r#"{"id":1,"result":{"_meta":7}}"#,
            r#"[{"id":1,"result":{}}]"#,
            r#"{"id":1,"result":{}"#,
            "",
        ] {
            assert_eq!(add(body), None, "{body}");
        }
    }
}
