use super::*;
use crate::wire::bytes::{from_hex, to_hex};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

// Known answers from pymacaroons 0.13 (an independent implementation), generated at development
// time; the tool is not a dependency. Its serializer writes an empty location field, which
// libmacaroons and go-macaroon omit; both forms parse.
const PY_ROOT_HEX: &str = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
const PY_ID_HEX: &str = "0000735c8b3974bca506e6f48ffea1fad180b2bbd0e529fd65886bf37715831465e3000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PY_SIG_HEX: &str = "506cbb1b832b12fe0d69a1ecfd598c921dd8807fafde50ed657b8ef497a51b47";
const PY_B64: &str = "AgEAAkIAAHNcizl0vKUG5vSP_qH60YCyu9DlKf1liGvzdxWDFGXjAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAhRzZXJ2aWNlcz1nYXRlaG91c2U6MAACHGdhdGVob3VzZV9jYXBhYmlsaXRpZXM9dG9vbHMAAiBnYXRlaG91c2VfdmFsaWRfdW50aWw9MTc5NTMwODU4MAAABiBQbLsbgysS_g1poez9WYySHdiAf6_eUO1le470l6UbRw";
const PY_LOC_B64: &str = "AgESaHR0cHM6Ly9ndy5leGFtcGxlAhBpZC13aXRoLWxvY2F0aW9uAAIDYT1iAAAGIB2qSmoSZCCyn4FZlZxOvYcdro8XGZ9-Il7w92yNO6GK";

fn caveats() -> Vec<Vec<u8>> {
    [
        "services=gatehouse:0",
        "gatehouse_capabilities=tools",
        "gatehouse_valid_until=1795308580",
    ]
    .iter()
    .map(|c| c.as_bytes().to_vec())
    .collect()
}

#[test]
fn minting_matches_pymacaroons_signature() {
    let m = Macaroon::mint(
        &from_hex(PY_ROOT_HEX).unwrap(),
        from_hex(PY_ID_HEX).unwrap(),
        "",
        caveats(),
    );
    assert_eq!(to_hex(&m.signature), PY_SIG_HEX);
}

#[test]
fn a_pymacaroons_binary_parses_and_verifies() {
    let m = Macaroon::from_binary(&URL_SAFE_NO_PAD.decode(PY_B64).unwrap()).unwrap();
    assert_eq!(to_hex(&m.identifier), PY_ID_HEX);
    assert_eq!(m.caveats, caveats());
    assert!(m.verify_signature(&from_hex(PY_ROOT_HEX).unwrap()));
    assert!(!m.verify_signature(&[0u8; 32]));
}

#[test]
fn serialization_with_a_location_is_byte_identical_to_pymacaroons() {
    let m = Macaroon::mint(
        b"short key",
        b"id-with-location".to_vec(),
        "https://gw.example",
        vec![b"a=b".to_vec()],
    );
    assert_eq!(URL_SAFE_NO_PAD.encode(m.to_binary()), PY_LOC_B64);
}

#[test]
fn binary_round_trips() {
    let m = Macaroon::mint(
        b"k",
        vec![1, 2, 3],
        "",
        vec![vec![b'x'; 300], b"y".to_vec()],
    );
    assert_eq!(Macaroon::from_binary(&m.to_binary()).unwrap(), m);
}

#[test]
fn adding_or_removing_a_caveat_breaks_the_chain() {
    let key = from_hex(PY_ROOT_HEX).unwrap();
    let m = Macaroon::mint(&key, from_hex(PY_ID_HEX).unwrap(), "", caveats());
    let mut fewer = m.clone();
    fewer.caveats.pop();
    assert!(!fewer.verify_signature(&key));
    let mut more = m.clone();
    more.caveats
        .push(b"gatehouse_valid_until=9999999999".to_vec());
    assert!(!more.verify_signature(&key));
}

#[test]
fn truncated_and_garbage_inputs_are_errors_not_panics() {
    let good = Macaroon::mint(b"k", vec![7; 66], "", caveats()).to_binary();
    for len in 0..good.len() {
        assert!(Macaroon::from_binary(&good[..len]).is_err(), "prefix {len}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(Macaroon::from_binary(&trailing).is_err());
    assert_eq!(
        Macaroon::from_binary(&vec![2; MAX_MACAROON_BYTES + 1]),
        Err(MacaroonError::TooLarge)
    );
    assert!(Macaroon::from_binary(&[1, 2, 3]).is_err());
}

#[test]
fn third_party_caveats_are_refused() {
    // A caveat section with a verification id (type 4).
    let mut raw = vec![VERSION];
    field(&mut raw, IDENTIFIER, b"id");
    raw.push(EOS);
    field(&mut raw, IDENTIFIER, b"cav");
    field(&mut raw, VID, b"vid");
    raw.push(EOS);
    raw.push(EOS);
    field(&mut raw, SIGNATURE, &[0; 32]);
    assert_eq!(
        Macaroon::from_binary(&raw),
        Err(MacaroonError::ThirdPartyCaveat)
    );
}
