//! A request's query string, decoded as the WHATWG URL Standard's
//! `application/x-www-form-urlencoded` parser does (§5.1): split on `&`, drop empty pieces, cut
//! each at its first `=`, read `+` as a space, percent-decode, then decode UTF-8 with
//! replacement. The admin API reads its filters (`?since=&until=&identity=`) through this rather
//! than a URL parser, which would cost the Worker its Unicode tables for two numbers and a name.
//!
//! Fields are read as a derived `Deserialize` over the pairs would read them: a name given twice
//! is refused, an unknown name is ignored, a number must parse whole.

use std::str::FromStr;

/// The decoded `name=value` pairs of a query, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// Why a query was refused: a field repeated, or a value that is not what the field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Repeated(String),
    Invalid(String),
}

impl Query {
    /// Decodes `query`, with or without its leading `?`.
    pub fn parse(query: &str) -> Self {
        let query = query.strip_prefix('?').unwrap_or(query);
        let pairs = query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| {
                let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
                (decode(name), decode(value))
            })
            .collect();
        Self { pairs }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The value of `name`, if given; refused if given more than once.
    pub fn text(&self, name: &str) -> Result<Option<&str>, QueryError> {
        let mut found = self.pairs.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (_, Some(_)) => Err(QueryError::Repeated(name.to_string())),
            (first, None) => Ok(first.map(|(_, v)| v.as_str())),
        }
    }

    /// The value of `name` parsed whole as a `T` (a number), if given.
    pub fn parsed<T: FromStr>(&self, name: &str) -> Result<Option<T>, QueryError> {
        self.text(name)?
            .map(|v| v.parse().map_err(|_| QueryError::Invalid(name.to_string())))
            .transpose()
    }
}

/// `+` to a space, `%XX` to its byte (a `%` not followed by two hex digits stays as it is), then
/// UTF-8 with U+FFFD for what does not decode.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pairs of `q`, decoded.
    fn pairs(q: &str) -> Vec<(String, String)> {
        Query::parse(q).pairs().to_vec()
    }

    fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn splits_on_ampersands_and_the_first_equals_sign() {
        assert_eq!(
            pairs("?a=1&b=2=3&c&=d"),
            owned(&[("a", "1"), ("b", "2=3"), ("c", ""), ("", "d")])
        );
        assert_eq!(pairs("a=1"), owned(&[("a", "1")]));
    }

    #[test]
    fn empty_pieces_and_an_empty_query_give_no_pairs() {
        assert!(pairs("").is_empty());
        assert!(pairs("?").is_empty());
        assert_eq!(pairs("&&a=1&&"), owned(&[("a", "1")]));
    }

    #[test]
    fn plus_is_a_space_and_percent_escapes_decode_after_it() {
        assert_eq!(pairs("name=a+b%2Bc"), owned(&[("name", "a b+c")]));
        assert_eq!(pairs("n%61me=%e2%9C%93"), owned(&[("name", "✓")]));
    }

    #[test]
    fn a_malformed_escape_stays_as_written() {
        assert_eq!(
            pairs("a=%&b=%4&c=%zz1"),
            owned(&[("a", "%"), ("b", "%4"), ("c", "%zz1")])
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        assert_eq!(pairs("a=%FF%41"), owned(&[("a", "\u{FFFD}A")]));
    }

    #[test]
    fn a_field_given_twice_is_refused_and_an_unknown_one_ignored() {
        let q = Query::parse("since=1&since=2&other=x");
        assert_eq!(q.text("since"), Err(QueryError::Repeated("since".into())));
        assert_eq!(q.text("until"), Ok(None));
    }

    #[test]
    fn numbers_parse_whole_or_are_refused() {
        let q = Query::parse("since=1700000000000&until=12x&limit=&n=%2B7");
        assert_eq!(q.parsed::<u64>("since"), Ok(Some(1_700_000_000_000)));
        assert_eq!(
            q.parsed::<u64>("until"),
            Err(QueryError::Invalid("until".into()))
        );
        assert_eq!(
            q.parsed::<u32>("limit"),
            Err(QueryError::Invalid("limit".into()))
        );
        assert_eq!(q.parsed::<u32>("n"), Ok(Some(7)));
        assert_eq!(q.parsed::<u64>("absent"), Ok(None));
        assert_eq!(
            Query::parse("limit=4294967296").parsed::<u32>("limit"),
            Err(QueryError::Invalid("limit".into()))
        );
    }
}
