use super::*;

fn problem(name: &str) -> AmountProblem {
    match name {
        "malformed" => AmountProblem::Malformed,
        "unknown_prefix" => AmountProblem::UnknownPrefix,
        "no_amount" => AmountProblem::NoAmount,
        "bad_amount" => AmountProblem::BadAmount,
        other => panic!("unknown problem {other}"),
    }
}

#[test]
fn the_bolt11_examples_give_their_amounts_or_fail_as_the_spec_says() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/bolt11-vectors.json")).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    for v in vectors {
        let invoice = v["invoice"].as_str().unwrap();
        let expected = match v["msat"].as_u64() {
            Some(msat) => Ok(msat),
            None => Err(problem(v["error"].as_str().unwrap())),
        };
        assert_eq!(amount_msat(invoice), expected, "{}", v["note"]);
    }
}

/// A bech32 string with a valid checksum over `hrp` and `data`, so the rules on the amount can
/// be tried one at a time.
fn with_checksum(hrp: &str, data: &str) -> String {
    let values: Vec<u8> = data
        .bytes()
        .map(|c| CHARSET.iter().position(|x| *x == c).unwrap() as u8)
        .collect();
    let expanded: Vec<u8> = hrp
        .bytes()
        .map(|b| b >> 5)
        .chain([0])
        .chain(hrp.bytes().map(|b| b & 31))
        .collect();
    let pm = polymod(
        expanded
            .into_iter()
            .chain(values.iter().copied())
            .chain([0; 6]),
    ) ^ 1;
    let checksum: String = (0..6)
        .map(|i| CHARSET[((pm >> (5 * (5 - i))) & 31) as usize] as char)
        .collect();
    format!("{hrp}1{data}{checksum}")
}

#[test]
fn multipliers_scale_bitcoin_to_millisatoshis() {
    let data = "pvjluezqqqq";
    for (hrp, msat) in [
        ("lnbc3", 300_000_000_000),
        ("lnbc3m", 300_000_000),
        ("lnbc3u", 300_000),
        ("lnbc30n", 3_000),
        ("lnbc30p", 3),
        ("lnbcrt5u", 500_000),
        ("lntbs10n", 1_000),
    ] {
        assert_eq!(amount_msat(&with_checksum(hrp, data)), Ok(msat), "{hrp}");
    }
}

#[test]
fn amounts_the_spec_forbids_are_never_read() {
    let data = "pvjluezqqqq";
    for (hrp, problem) in [
        ("lnbc", AmountProblem::NoAmount),
        ("lnbc0n", AmountProblem::BadAmount),
        ("lnbc010n", AmountProblem::BadAmount),
        ("lnbc25p", AmountProblem::BadAmount),
        ("lnbcu", AmountProblem::UnknownPrefix),
        ("lnbc10k", AmountProblem::BadAmount),
        ("lnbc10mm", AmountProblem::BadAmount),
        ("lnbc99999999999999999999m", AmountProblem::BadAmount),
        ("lnbc200000000", AmountProblem::BadAmount),
        ("lnxx10u", AmountProblem::UnknownPrefix),
        ("bc10u", AmountProblem::UnknownPrefix),
    ] {
        assert_eq!(
            amount_msat(&with_checksum(hrp, data)),
            Err(problem),
            "{hrp}"
        );
    }
}

#[test]
fn a_changed_amount_breaks_the_checksum() {
    let honest = with_checksum("lnbc30n", "pvjluezqqqq");
    assert_eq!(amount_msat(&honest), Ok(3_000));
    let inflated = honest.replacen("30n", "30u", 1);
    assert_eq!(amount_msat(&inflated), Err(AmountProblem::Malformed));
    assert_eq!(
        amount_msat(&format!("{honest}{}", "q".repeat(MAX_INVOICE_CHARS))),
        Err(AmountProblem::Malformed)
    );
    assert_eq!(amount_msat(""), Err(AmountProblem::Malformed));
    assert_eq!(amount_msat("lnbc30n1"), Err(AmountProblem::Malformed));
}
