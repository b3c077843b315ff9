//! Taking a credential out of a body's `params._meta` by cutting its bytes, not by
//! re-serializing: the origin gets the client's bytes less the member (an in-band token,
//! `"gatehouse/access_token"`, or an x402 payment, `"x402/payment"`), so every number, key order
//! and spelling it reads is the client's own (a re-serialization would turn `1E5` into
//! `100000.0` and round integers past 2^53).
//!
//! The body has already passed the strict reading (`json_strict`), so the scanner here only has
//! to find spans in well-formed JSON; it refuses (`None`) anything it does not understand.

use serde_json::Value;

/// Skips JSON whitespace from `i`.
pub(super) fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end (exclusive) of the string starting at `i` (a `"`).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The end (exclusive) of the value starting at `i`.
pub(super) fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let (open, close) = (b[i], if b[i] == b'{' { b'}' } else { b']' });
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    c if c == open || c == b'{' || c == b'[' => depth += 1,
                    c if c == close || c == b'}' || c == b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// One member of an object: where it starts (its key), where its value is, where it ends.
pub(super) struct Member {
    pub(super) key: String,
    pub(super) start: usize,
    pub(super) value: (usize, usize),
}

/// The members of the object starting at `i` (a `{`).
pub(super) fn members(b: &[u8], i: usize) -> Option<Vec<Member>> {
    let mut out = Vec::new();
    let mut j = ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let start = j;
        let key_end = string_end(b, j)?;
        let key: String = serde_json::from_slice(&b[j..key_end]).ok()?;
        j = ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        let v = ws(b, j + 1);
        let v_end = value_end(b, v)?;
        out.push(Member {
            key,
            start,
            value: (v, v_end),
        });
        j = ws(b, v_end);
        match b.get(j)? {
            b',' => j = ws(b, j + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

pub(super) fn find<'a>(ms: &'a [Member], key: &str) -> Option<&'a Member> {
    ms.iter().find(|m| m.key == key)
}

/// The byte range to cut for the `key` member of the `_meta` of the message object at `i`, and
/// its value.
fn member_in_message(
    b: &[u8],
    i: usize,
    key: &str,
    accept: fn(&Value) -> bool,
) -> Option<((usize, usize), Value)> {
    let params = find(&members(b, i)?, "params").map(|m| m.value.0)?;
    if b[params] != b'{' {
        return None;
    }
    let meta = find(&members(b, params)?, "_meta").map(|m| m.value.0)?;
    if b[meta] != b'{' {
        return None;
    }
    let in_meta = members(b, meta)?;
    let at = in_meta.iter().position(|m| m.key == key)?;
    let member = &in_meta[at];
    let value: Value = serde_json::from_slice(&b[member.value.0..member.value.1])
        .ok()
        .filter(accept)?;
    // Cut the member with one neighbouring comma: the following one, or for the last member
    // the preceding one, so the object stays well-formed.
    let cut = match in_meta.get(at + 1) {
        Some(next) => (member.start, next.start),
        None if at > 0 => (in_meta[at - 1].value.1, member.value.1),
        None => (member.start, member.value.1),
    };
    Some((cut, value))
}

/// The first value of the `_meta` member `key` in the body's messages, and the body without any
/// of those members; `None` when there is none. Only values `accept` takes are cut (an in-band
/// token is a string; anything else under its key is the origin's business).
pub fn cut_meta_member(
    body: &[u8],
    key: &str,
    accept: fn(&Value) -> bool,
) -> Option<(Value, Vec<u8>)> {
    let start = ws(body, 0);
    let messages: Vec<usize> = match body.get(start)? {
        b'{' => vec![start],
        b'[' => {
            let mut at = Vec::new();
            let mut j = ws(body, start + 1);
            while body.get(j) == Some(&b'{') {
                at.push(j);
                j = ws(body, value_end(body, j)?);
                if body.get(j) == Some(&b',') {
                    j = ws(body, j + 1);
                }
            }
            at
        }
        _ => return None,
    };
    let mut cuts = Vec::new();
    let mut first = None;
    for m in messages {
        if let Some((cut, value)) = member_in_message(body, m, key, accept) {
            first.get_or_insert(value);
            cuts.push(cut);
        }
    }
    let value = first?;
    let mut out = Vec::with_capacity(body.len());
    let mut from = 0;
    for (a, z) in cuts {
        out.extend_from_slice(&body[from..a]);
        from = z;
    }
    out.extend_from_slice(&body[from..]);
    Some((value, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(body: &str) -> Option<(String, String)> {
        cut_meta_member(
            body.as_bytes(),
            super::super::IN_BAND_TOKEN_KEY,
            Value::is_string,
        )
        .map(|(t, rest)| {
            (
                t.as_str().unwrap_or("").to_string(),
                String::from_utf8(rest).unwrap(),
            )
        })
    }

    #[test]
    fn the_member_is_cut_and_every_other_byte_kept() {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","arguments":{"n":1E5,"big":123456789012345678901234567890},"_meta":{"progressToken":3,"gatehouse/access_token":"tok"}}}"#;
        let (token, rest) = cut(body).unwrap();
        assert_eq!(token, "tok");
        assert_eq!(
            rest,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","arguments":{"n":1E5,"big":123456789012345678901234567890},"_meta":{"progressToken":3}}}"#
        );
    }

    #[test]
    fn first_middle_and_only_members_leave_well_formed_objects() {
        for (meta, left) in [
            (r#"{"gatehouse/access_token":"t","a":1}"#, r#"{"a":1}"#),
            (
                r#"{"a":1, "gatehouse/access_token" : "t" ,"b":2}"#,
                r#"{"a":1, "b":2}"#,
            ),
            (r#"{ "gatehouse/access_token":"t" }"#, r#"{  }"#),
        ] {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"_meta":{meta}}}}}"#
            );
            let (_, rest) = cut(&body).unwrap();
            let want = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"_meta":{left}}}}}"#
            );
            assert_eq!(rest, want);
            assert!(serde_json::from_str::<serde_json::Value>(&rest).is_ok());
        }
    }

    #[test]
    fn every_message_of_a_batch_loses_its_token_and_the_first_is_kept() {
        let body = r#"[{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"gatehouse/access_token":"one"}}},{"jsonrpc":"2.0","id":2,"method":"ping","params":{"_meta":{"gatehouse/access_token":"two","x":"}"}}}]"#;
        let (token, rest) = cut(body).unwrap();
        assert_eq!(token, "one");
        assert!(!rest.contains("gatehouse/access_token"));
        assert!(rest.contains(r#""x":"}""#));
    }

    #[test]
    fn an_escaped_key_is_the_same_key() {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"gatehouse\/access_token":"t"}}}"#;
        assert_eq!(cut(body).unwrap().0, "t");
    }

    #[test]
    fn no_token_no_rewrite() {
        assert!(cut(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).is_none());
        assert!(cut(r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"gatehouse/access_token":7}}}"#).is_none());
    }
}
