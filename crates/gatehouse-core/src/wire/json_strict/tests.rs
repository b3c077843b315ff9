use super::*;
use serde_json::json;

fn refused(text: &[u8]) -> JsonRejection {
    match parse(text) {
        Err(r) => r,
        Ok(v) => panic!("{:?} was read as {v}", String::from_utf8_lossy(text)),
    }
}

#[test]
fn well_formed_json_reads_as_serde_json_reads_it() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":[1,2.5,-3,true,false,null]}}}"#,
        " \t\r\n[ {} , [ ] , \"\" ] \n",
        r#""\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00 é 😀""#,
        "0",
        "-0.0",
        "-0e3",
        "1e-400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "123456789012345678901234567890",
        "1.7976931348623157e308",
        r#"{"a":{"a":{"a":1}},"b":{"a":2}}"#,
        "\"\u{2028}\u{2029}\u{7f}\"",
    ] {
        let ours = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs, "{text}");
    }
}

#[test]
fn a_surrogate_pair_escape_is_one_character() {
    assert_eq!(parse(br#""\uD83D\uDE00""#), Ok(json!("😀")));
}

#[test]
fn a_lone_surrogate_escape_is_refused_wherever_it_is() {
    for text in [
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800x""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\ude00\ud83d""#,
        r#"{"params":{"_meta":{"x":"\ud800"}}}"#,
        r#"{"\udfff":1}"#,
    ] {
        assert_eq!(
            refused(text.as_bytes()),
            JsonRejection::LoneSurrogate,
            "{text}"
        );
    }
}

#[test]
fn invalid_utf8_is_refused() {
    for bytes in [
        &b"\"\xff\""[..],
        b"\"\xc3\"",
        b"\"\xed\xa0\x80\"", // a surrogate encoded directly (CESU-8)
        b"\"\xc0\xaf\"",     // an overlong '/'
        b"{\"a\":1}\x80",
    ] {
        assert_eq!(refused(bytes), JsonRejection::InvalidUtf8);
    }
}

#[test]
fn a_byte_order_mark_is_refused() {
    assert_eq!(refused(b"\xEF\xBB\xBF{}"), JsonRejection::ByteOrderMark);
}

#[test]
fn a_member_named_twice_is_refused_at_any_depth_and_in_any_spelling() {
    for text in [
        r#"{"name":"a","name":"b"}"#,
        r#"{"params":{"name":"safe","arguments":{},"name":"admin"}}"#,
        r#"[{"a":1},{"b":{"c":[{"d":1,"d":1}]}}]"#,
        r#"{"name":1,"n\u0061me":2}"#,
        r#"{"\u00e9":1,"é":2}"#,
    ] {
        assert_eq!(
            refused(text.as_bytes()),
            JsonRejection::DuplicateMember,
            "{text}"
        );
    }
    // The same name in sibling objects is not a duplicate.
    assert!(parse(br#"[{"name":1},{"name":2}]"#).is_ok());
}

#[test]
fn nesting_is_allowed_to_the_limit_and_refused_past_it() {
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(parse(nest(MAX_DEPTH).as_bytes()).is_ok());
    assert_eq!(
        refused(nest(MAX_DEPTH + 1).as_bytes()),
        JsonRejection::TooDeep
    );
    assert_eq!(refused(nest(2_000).as_bytes()), JsonRejection::TooDeep);
    let objects = format!(
        "{}1{}",
        r#"{"a":"#.repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(refused(objects.as_bytes()), JsonRejection::TooDeep);
    // Unbalanced and deep: refused for depth before anything else, without recursing further.
    assert_eq!(
        refused("[".repeat(100_000).as_bytes()),
        JsonRejection::TooDeep
    );
}

#[test]
fn bytes_after_the_value_are_refused_but_whitespace_is_not() {
    assert!(parse(b"{} \r\n\t").is_ok());
    for text in [
        &b"{}x"[..],
        b"{}{}",
        b"{} ,",
        b"[]]",
        b"{}\0",
        b"{}\x0c",
        b"01",
        b"0x10",
        b"truex",
    ] {
        assert_eq!(refused(text), JsonRejection::TrailingBytes, "{text:?}");
    }
}

#[test]
fn literals_only_json_has_are_refused() {
    for text in [
        "NaN",
        "Infinity",
        "-Infinity",
        r#"{"x":NaN}"#,
        "[1,Infinity]",
        "True",
        "nul",
        "undefined",
        "'a'",
        "+1",
        ".5",
        "1.",
        "1e",
        "[1,]",
        r#"{"a":1,}"#,
        "{a:1}",
        "",
        "   ",
        "\"open",
        r#""\x""#,
        r#""\u12""#,
        r#""\u12G4""#,
        "// comment\n{}",
    ] {
        assert_eq!(refused(text.as_bytes()), JsonRejection::Syntax, "{text}");
    }
}

#[test]
fn a_control_character_in_a_string_is_refused() {
    for text in [&b"\"a\nb\""[..], b"\"\t\"", b"\"\0\"", b"{\"\x1f\":1}"] {
        assert_eq!(refused(text), JsonRejection::ControlCharacter, "{text:?}");
    }
    // Escaped, they are ordinary characters every reader agrees on.
    assert_eq!(parse(br#""a\nb\u0000""#), Ok(json!("a\nb\0")));
}

#[test]
fn a_number_that_overflows_a_double_is_refused() {
    for text in [
        "1e400",
        "-1e400",
        "1E+309",
        &format!("1{}", "0".repeat(400)),
    ] {
        assert_eq!(
            refused(text.as_bytes()),
            JsonRejection::NumberOutOfRange,
            "{text}"
        );
    }
}

#[test]
fn minus_zero_as_an_integer_is_refused() {
    assert_eq!(refused(b"-0"), JsonRejection::NegativeZero);
    assert_eq!(refused(br#"{"id":-0}"#), JsonRejection::NegativeZero);
    // With a fraction or an exponent every reader reads a double minus zero.
    assert!(parse(b"-0.0").is_ok() && parse(b"-0E1").is_ok());
}
