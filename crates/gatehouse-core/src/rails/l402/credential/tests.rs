use super::*;

use crate::wire::bytes::to_hex;

fn settings() -> L402Settings {
    L402Settings {
        service: "gatehouse".into(),
        root_secret: b"root-secret-0123456789abcdef0123456789".to_vec(),
        price_sats: 3,
        invoice_expiry_s: 300,
    }
}

const PREIMAGE: [u8; 32] = [9u8; 32];

fn identifier() -> Identifier {
    Identifier {
        payment_hash: Sha256::digest(PREIMAGE).into(),
        token_id: [4u8; 32],
    }
}

fn credential(mac: &Macaroon, preimage: &[u8; 32]) -> String {
    format!(
        "L402 {}:{}",
        STANDARD.encode(mac.to_binary()),
        to_hex(preimage)
    )
}

fn check(header: &str, now_s: u64) -> Result<Verified, L402Rejection> {
    verify(&settings(), &parse_authorization(header).unwrap()?, now_s)
}

#[test]
fn identifier_has_the_aperture_layout() {
    let raw = identifier().encode();
    assert_eq!(raw.len(), 66);
    assert_eq!(&raw[..2], &[0, 0]);
    assert_eq!(&raw[2..34], &identifier().payment_hash);
    assert_eq!(Identifier::decode(&raw).unwrap(), identifier());
    let mut v1 = raw.clone();
    v1[1] = 1;
    assert!(Identifier::decode(&v1).is_none());
}

#[test]
fn a_paid_credential_verifies_until_its_expiry() {
    let mac = mint(&settings(), &identifier(), 2_000);
    let v = check(&credential(&mac, &PREIMAGE), 1_999).unwrap();
    assert_eq!(v.token_id, [4u8; 32]);
    assert_eq!(v.valid_until_s, 2_000);
    assert_eq!(
        check(&credential(&mac, &PREIMAGE), 2_000),
        Err(L402Rejection::Expired)
    );
}

#[test]
fn the_lsat_scheme_and_url_safe_base64_are_accepted() {
    let mac = mint(&settings(), &identifier(), 2_000);
    let header = format!(
        "LSAT {}:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.to_binary()),
        to_hex(&PREIMAGE)
    );
    assert!(check(&header, 1_000).is_ok());
}

#[test]
fn a_wrong_preimage_is_refused() {
    let mac = mint(&settings(), &identifier(), 2_000);
    assert_eq!(
        check(&credential(&mac, &[8u8; 32]), 1_000),
        Err(L402Rejection::WrongPreimage)
    );
}

#[test]
fn a_macaroon_minted_under_another_secret_is_refused() {
    let other = L402Settings {
        root_secret: b"another-secret-0123456789abcdef01234".to_vec(),
        ..settings()
    };
    let mac = mint(&other, &identifier(), 2_000);
    assert_eq!(
        check(&credential(&mac, &PREIMAGE), 1_000),
        Err(L402Rejection::BadSignature)
    );
}

#[test]
fn a_tampered_caveat_is_refused() {
    let mut mac = mint(&settings(), &identifier(), 2_000);
    mac.caveats[2] = b"gatehouse_valid_until=9999999999".to_vec();
    assert_eq!(
        check(&credential(&mac, &PREIMAGE), 1_000),
        Err(L402Rejection::BadSignature)
    );
}

#[test]
fn attenuation_by_the_holder_narrows_and_never_widens() {
    let base = mint(&settings(), &identifier(), 2_000);
    let extend = |caveat: &str| {
        let mut caveats = base.caveats.clone();
        caveats.push(caveat.as_bytes().to_vec());
        // A holder extends the chain from the current signature, as any macaroon library does.
        let mut sig = base.signature;
        let mut m = Hmac::<Sha256>::new_from_slice(&sig).unwrap();
        m.update(caveat.as_bytes());
        sig = m.finalize().into_bytes().into();
        Macaroon {
            caveats,
            signature: sig,
            ..base.clone()
        }
    };
    assert_eq!(
        check(
            &credential(&extend("gatehouse_valid_until=1500"), &PREIMAGE),
            1_600
        ),
        Err(L402Rejection::Expired)
    );
    assert!(check(
        &credential(&extend("gatehouse_valid_until=9999"), &PREIMAGE),
        1_999
    )
    .is_ok());
    assert_eq!(
        check(
            &credential(&extend("gatehouse_valid_until=9999"), &PREIMAGE),
            2_000
        ),
        Err(L402Rejection::Expired)
    );
    assert_eq!(
        check(
            &credential(&extend("gatehouse_capabilities=admin"), &PREIMAGE),
            1_000
        ),
        Err(L402Rejection::CapabilityMissing)
    );
    assert_eq!(
        check(
            &credential(&extend("gatehouse_color=red"), &PREIMAGE),
            1_000
        ),
        Err(L402Rejection::UnknownCaveat)
    );
    assert!(check(
        &credential(&extend("otherservice_tier=gold"), &PREIMAGE),
        1_000
    )
    .is_ok());
}

#[test]
fn a_shortened_presentation_still_reports_the_minted_expiry() {
    // What must outlive the credential (its counter, the claim of its payment, a revocation) is
    // kept until the expiry it was minted with, whatever shorter or longer one the holder adds.
    let base = mint(&settings(), &identifier(), 2_000);
    for (caveat, presented) in [
        ("gatehouse_valid_until=1100", 1_100),
        ("gatehouse_valid_until=9999", 2_000),
    ] {
        let mut m = Hmac::<Sha256>::new_from_slice(&base.signature).unwrap();
        m.update(caveat.as_bytes());
        let mut caveats = base.caveats.clone();
        caveats.push(caveat.as_bytes().to_vec());
        let extended = Macaroon {
            caveats,
            signature: m.finalize().into_bytes().into(),
            ..base.clone()
        };
        let v = check(&credential(&extended, &PREIMAGE), 1_000).unwrap();
        assert_eq!((v.valid_until_s, v.minted_until_s), (presented, 2_000));
    }
}

#[test]
fn another_service_is_refused() {
    let other = L402Settings {
        service: "elsewhere".into(),
        ..settings()
    };
    let mac = mint(&other, &identifier(), 2_000);
    let cred = parse_authorization(&credential(&mac, &PREIMAGE))
        .unwrap()
        .unwrap();
    assert_eq!(
        verify(
            &L402Settings {
                service: "gatehouse".into(),
                root_secret: other.root_secret.clone(),
                ..settings()
            },
            &cred,
            1_000
        ),
        Err(L402Rejection::WrongService)
    );
}

#[test]
fn other_schemes_are_not_l402_and_garbage_is_malformed() {
    assert!(parse_authorization("Bearer abc").is_none());
    assert!(parse_authorization("L402").is_none());
    for bad in [
        "L402 nocolon",
        "L402 !!!:00",
        "L402 AgE=:zz",
        &format!("L402 AgE=:{}", "0".repeat(62)),
    ] {
        let parsed = parse_authorization(bad).unwrap();
        assert!(
            parsed.is_err() || verify(&settings(), &parsed.unwrap(), 0).is_err(),
            "{bad}"
        );
    }
}
