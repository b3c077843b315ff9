//! The client's time budget (`Gatehouse-Time-Budget`, docs/PROTOCOL.md §1), which
//! `difficulty::plan` fits the offers to.

/// A `Gatehouse-Time-Budget` value: seconds, finite and non-negative, or nothing. The syntax is
/// Rust's float syntax (`2`, `2.5`, `.5`, `5.`, `+1e3`); the number is read by serde_json, whose
/// reader the gateway has anyway, in JSON's spelling of it, which spares the Wasm the standard
/// library's float parser and its tables (~14 KB).
pub fn parse_budget(raw: Option<&str>) -> Option<f64> {
    let t = raw?.trim();
    let (sign, t) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exponent) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    let int_ok = int.is_empty() || digits(int);
    let frac_ok = frac.is_empty() || digits(frac);
    if !(int_ok && frac_ok && exponent_ok) || int.len() + frac.len() == 0 {
        return None;
    }
    let int = int.trim_start_matches('0');
    let mut json = format!("{sign}{}", if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        json.push('.');
        json.push_str(frac);
    }
    if let Some(e) = exponent {
        json.push('e');
        json.push_str(e);
    }
    serde_json::from_slice::<f64>(json.as_bytes())
        .ok()
        .filter(|b| b.is_finite() && *b >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_finite_non_negative_seconds() {
        assert_eq!(parse_budget(Some(" 2.5 ")), Some(2.5));
        for bad in ["-1", "NaN", "inf", "x", ""] {
            assert_eq!(parse_budget(Some(bad)), None, "{bad}");
        }
        assert_eq!(parse_budget(None), None);
    }

    #[test]
    fn budgets_read_as_the_standard_float_parser_reads_them() {
        let std = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|b| b.is_finite() && *b >= 0.0)
        };
        for raw in [
            "2",
            "2.5",
            ".5",
            "5.",
            "+1e3",
            "1E-3",
            "007.50",
            "0",
            "-0",
            "+0.0",
            "1e400",
            "1e-400",
            "0e99999999999999999999",
            "0.131072",
            "12345678901234567890",
            "1.2.3",
            "e5",
            ".",
            "+",
            "-",
            "1e",
            "1e+",
            "1e-",
            " 3 ",
            "0x10",
            "1_000",
            "infinity",
            "NaN",
            "inf",
            "-inf",
            "--1",
            "+-1",
            "1.e2",
            ".e2",
            "1e2.5",
            "١",
        ] {
            assert_eq!(parse_budget(Some(raw)), std(raw), "{raw:?}");
        }
    }
}
