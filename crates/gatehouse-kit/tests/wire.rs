//! The kit's names on the wire against `clients/js/wire.json`, the list the gateway's core and
//! the other clients are held to (docs/PROTOCOL.md §7).

use gatehouse_kit::challenge::{is_marked, verify_url_for, MARKER_HEADER};
use gatehouse_kit::lightning::{parse_challenge, L402_SCHEME};
use serde_json::Value;

fn wire() -> Value {
    serde_json::from_str(include_str!("../../../clients/js/wire.json")).expect("wire.json is JSON")
}

fn name<'a>(file: &'a Value, section: &str, key: &str) -> &'a str {
    file[section][key]
        .as_str()
        .unwrap_or_else(|| panic!("wire.json {section}.{key}"))
}

#[test]
fn the_marker_is_the_files_name_and_value() {
    let file = wire();
    assert_eq!(MARKER_HEADER, name(&file, "headers", "challenge_marker"));
    assert!(is_marked(Some(name(
        &file,
        "header_values",
        "challenge_marker"
    ))));
}

#[test]
fn an_l402_challenge_in_the_files_scheme_parses() {
    let file = wire();
    let scheme = name(&file, "schemes", "l402");
    assert_eq!(L402_SCHEME, scheme);
    let line = format!(r#"{scheme} macaroon="AgJC", invoice="lnbcrt10n1x""#);
    assert_eq!(
        parse_challenge(&line),
        Some(("AgJC".into(), "lnbcrt10n1x".into()))
    );
    let pow = format!(r#"{} challenge_id="x""#, name(&file, "schemes", "pow"));
    assert_eq!(parse_challenge(&pow), None);
}

#[test]
fn the_files_redemption_path_is_answered_on_the_gateways_origin() {
    let file = wire();
    let path = name(&file, "paths", "verify_challenge");
    let url = verify_url_for("https://gw.example/mcp", path).expect("same origin");
    assert_eq!(url.as_str(), format!("https://gw.example{path}"));
}
