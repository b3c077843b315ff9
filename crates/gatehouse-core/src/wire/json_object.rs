//! JSON objects from (member, value) pairs, for the bodies and log lines the gateway writes.
//! `serde_json::json!` spends ~140 bytes of Wasm on every member it builds (the name's
//! allocation, a `to_value` and its unwrap, the insert, the drop of what the insert returns);
//! here a member is its name and an already built `Value`, and the inserting is one loop, once.

use serde_json::{Map, Value};

/// The object with these members (a later member of the same name replaces an earlier one).
pub fn object<const N: usize>(mut members: [(&str, Value); N]) -> Value {
    build(&mut members)
}

fn build(members: &mut [(&str, Value)]) -> Value {
    let mut map = Map::new();
    for (name, value) in members {
        map.insert((*name).to_string(), value.take());
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_is_what_json_builds() {
        let built = object([
            ("b", 1.into()),
            ("a", "x".into()),
            ("n", Value::Null),
            ("o", object([("k", vec![1u8, 2].into())])),
        ]);
        assert_eq!(
            built,
            json!({"a": "x", "b": 1, "n": null, "o": {"k": [1, 2]}})
        );
        assert_eq!(object([]), json!({}));
    }
}
