//! The gateway's reading of a POST body against an independent one (serde_json's `Value`, read
//! by a separate extraction written here), on arbitrary bytes and on JSON-RPC bodies with the
//! mutations that make readers disagree. The property: a body is refused, or both readings see
//! the same value and the same calls. Where a mutation is known to make a body ambiguous, it must
//! be refused, with the reason it was made for.

use gatehouse_core::mcp::{calls, BodyRejection};
use gatehouse_core::wire::json_strict::{self, JsonRejection, MAX_DEPTH};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The calls as serde_json's `Value` has them: (method, tool/prompt name or URI, id, arguments).
type Seen = (String, Option<String>, Option<Value>, Option<Value>);

fn independent(bytes: &[u8]) -> Option<Vec<Seen>> {
    let items = match serde_json::from_slice::<Value>(bytes).ok()? {
        Value::Array(items) => items,
        one => vec![one],
    };
    let seen = items.iter().map(|item| {
        let Some(method) = item["method"].as_str() else {
            return (String::new(), None, None, None);
        };
        let key = match method {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
            _ => None,
        };
        let name = key.and_then(|k| item["params"][k].as_str().map(str::to_string));
        let arguments = item["params"].get("arguments").cloned();
        (method.to_string(), name, item.get("id").cloned(), arguments)
    });
    Some(seen.collect())
}

/// The property every body must have.
fn refused_or_read_alike(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(ours) = json_strict::parse(bytes) {
        let theirs = serde_json::from_slice::<Value>(bytes);
        prop_assert_eq!(Some(&ours), theirs.as_ref().ok(), "the values differ");
    }
    if let Ok(ours) = calls(bytes) {
        let ours: Vec<Seen> = ours
            .into_iter()
            .map(|c| (c.method, c.name, c.id, c.arguments))
            .collect();
        prop_assert_eq!(Some(ours), independent(bytes), "the calls differ");
    }
    Ok(())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
        prop::sample::select(vec![
            "echo",
            "progress",
            "file:///x",
            "2.0",
            "tools/call",
            ""
        ])
        .prop_map(str::to_string),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "jsonrpc",
            "method",
            "params",
            "name",
            "uri",
            "id",
            "_meta",
            "arguments",
            "result",
            "error",
        ])
        .prop_map(str::to_string),
        text(),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const METHODS: &[&str] = &[
    "tools/call",
    "prompts/get",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/list",
    "initialize",
    "notifications/initialized",
];

/// A member that is there four times in five.
fn member<T: std::fmt::Debug>(v: BoxedStrategy<T>) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.8, v)
}

/// A message whose members may be missing or of the wrong type, carrying the marker member
/// `"@dup":"@@"` that the mutations below rewrite.
fn message() -> impl Strategy<Value = Value> {
    let version =
        prop_oneof![30 => Just(json!("2.0")), 1 => Just(json!("1.0")), 1 => Just(json!(2.0))];
    let method = prop_oneof![
        8 => prop::sample::select(METHODS).prop_map(Value::from),
        1 => any_json(),
    ];
    let id = prop_oneof![
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::String),
        Just(Value::Null),
        scalar(),
    ];
    let name = prop_oneof![4 => text().prop_map(Value::String), 1 => scalar()];
    let params = prop_oneof![
        4 => (member(name.clone().boxed()), member(name.boxed()), member(any_json().boxed()))
            .prop_map(|(name, uri, arguments)| {
                let mut p = Map::new();
                p.extend(name.map(|v| ("name".to_string(), v)));
                p.extend(uri.map(|v| ("uri".to_string(), v)));
                p.extend(arguments.map(|v| ("arguments".to_string(), v)));
                Value::Object(p)
            }),
        1 => any_json(),
    ];
    let outcome = prop_oneof![
        any_json().prop_map(|v| ("result", v)),
        any_json().prop_map(|v| ("error", v)),
    ];
    (
        prop::option::weighted(0.97, version),
        member(method.boxed()),
        member(id.boxed()),
        member(params.boxed()),
        member(outcome.boxed()),
    )
        .prop_map(|(version, method, id, params, outcome)| {
            let mut m = Map::new();
            m.extend(version.map(|v| ("jsonrpc".to_string(), v)));
            m.extend(method.map(|v| ("method".to_string(), v)));
            m.extend(id.map(|v| ("id".to_string(), v)));
            m.extend(params.map(|v| ("params".to_string(), v)));
            m.extend(outcome.map(|(k, v)| (k.to_string(), v)));
            m.insert("@dup".into(), json!("@@"));
            Value::Object(m)
        })
}

/// One message, a batch, or any JSON at all, as text, and how deep the marker sits.
fn body() -> impl Strategy<Value = (String, usize)> {
    prop_oneof![
        4 => message().prop_map(|m| (m.to_string(), 1)),
        2 => prop::collection::vec(message(), 0..4).prop_map(|b| (Value::Array(b).to_string(), 2)),
        1 => any_json().prop_map(|v| (v.to_string(), 0)),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    LoneSurrogate(&'static str),
    Duplicate,
    Nest(usize),
    Trailing(String),
    Bom,
    Byte(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::None),
        1 => prop::sample::select(vec![r"\ud800", r"\udbff", r"\udc00", r"\ud800\u0041", r"a\ud83d"])
            .prop_map(Mutation::LoneSurrogate),
        1 => Just(Mutation::Duplicate),
        1 => (1..200usize).prop_map(Mutation::Nest),
        1 => "[^ \t\r\n]{1,4}".prop_map(Mutation::Trailing),
        1 => Just(Mutation::Bom),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        1 => any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn apply(text: &str, depth: usize, m: &Mutation) -> (Vec<u8>, Option<JsonRejection>) {
    let marked = depth > 0 && text.contains(r#""@@""#);
    let mark = |with: &str| text.replacen(r#""@@""#, with, 1).into_bytes();
    match m {
        Mutation::LoneSurrogate(s) if marked => (
            mark(&format!("\"{s}\"")),
            Some(JsonRejection::LoneSurrogate),
        ),
        Mutation::Duplicate if marked => (
            text.replacen(r#""@dup":"#, r#""@dup":0,"@dup":"#, 1)
                .into_bytes(),
            Some(JsonRejection::DuplicateMember),
        ),
        Mutation::Nest(n) if marked => (
            mark(&format!("{}{}", "[".repeat(*n), "]".repeat(*n))),
            (depth + n > MAX_DEPTH).then_some(JsonRejection::TooDeep),
        ),
        Mutation::Trailing(t) => (
            format!("{text}{t}").into_bytes(),
            Some(JsonRejection::TrailingBytes),
        ),
        Mutation::Bom => (
            [b"\xEF\xBB\xBF", text.as_bytes()].concat(),
            Some(JsonRejection::ByteOrderMark),
        ),
        Mutation::Byte(i, b) => {
            let mut bytes = text.as_bytes().to_vec();
            bytes.insert(i % (bytes.len() + 1), *b);
            (bytes, None)
        }
        Mutation::Delete(i) if !text.is_empty() => {
            let mut bytes = text.as_bytes().to_vec();
            bytes.remove(i % bytes.len());
            (bytes, None)
        }
        _ => (text.as_bytes().to_vec(), None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_are_refused_or_read_alike(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        refused_or_read_alike(&bytes)?;
    }

    #[test]
    fn json_like_bytes_are_refused_or_read_alike(
        bytes in prop::collection::vec(prop::sample::select(b"{}[]\":,0-1e.\\u d8ntrfalse".to_vec()), 0..48)
    ) {
        refused_or_read_alike(&bytes)?;
    }

    #[test]
    fn mutated_json_rpc_is_refused_or_read_alike((text, depth) in body(), m in mutation()) {
        let (bytes, must_refuse) = apply(&text, depth, &m);
        refused_or_read_alike(&bytes)?;
        if let Some(why) = must_refuse {
            let got = calls(&bytes).err();
            // A bare number followed by what could continue a number (`0` then `.`) is one
            // malformed number rather than a value with bytes after it: refused either way.
            let continues_number = matches!(&m, Mutation::Trailing(t)
                if text.ends_with(|c: char| c.is_ascii_digit())
                    && t.starts_with(|c: char| c.is_ascii_digit() || ".eE+-".contains(c)));
            if continues_number {
                prop_assert!(matches!(got, Some(BodyRejection::Json(JsonRejection::Syntax | JsonRejection::TrailingBytes))), "{:?}", got);
            } else {
                prop_assert_eq!(got, Some(BodyRejection::Json(why)));
            }
        }
    }
}

/// The well-formed side: a message with every member right is read, whatever else it carries.
fn well_formed() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(METHODS),
        text(),
        prop::option::of(-(1i64 << 53) + 1..(1i64 << 53)),
        any_json(),
        "[a-z0-9]{1,12}(/[a-z0-9_-]{1,8}){0,3}",
    )
        .prop_map(|(method, name, id, arguments, path)| {
            // A resource URI must be canonical (`mcp::read::is_canonical_uri`); a name is any text.
            let (field, value) = if method.starts_with("resources/") {
                ("uri", format!("test://{path}"))
            } else {
                ("name", name)
            };
            let mut m = json!({ "jsonrpc": "2.0", "method": method, "params": { field: value, "arguments": arguments } });
            if let Some(id) = id {
                m["id"] = json!(id);
            }
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn well_formed_messages_and_batches_are_read(batch in prop::collection::vec(well_formed(), 1..5), single in any::<bool>()) {
        let body = if single { batch[0].to_string() } else { Value::Array(batch.clone()).to_string() };
        let read = calls(body.as_bytes());
        prop_assert!(read.is_ok(), "{} refused: {:?}", body, read);
        refused_or_read_alike(body.as_bytes())?;
    }
}
