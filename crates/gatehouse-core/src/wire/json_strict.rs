//! A strict reading of JSON (RFC 8259), for bodies the gateway decides on before an origin reads
//! them (docs/PROTOCOL.md §4, "Body rules").
//!
//! A permissive parser is a policy bypass: if the gateway and the origin can read one body two
//! ways, the gateway prices and authorizes one request while the origin runs another. So this
//! reader accepts only the texts on which RFC 8259 parsers agree (I-JSON, RFC 7493, is the same
//! idea) and refuses the rest: invalid UTF-8 and a byte order mark (RFC 8259 §8.1); a string with
//! an unpaired surrogate escape (§8.2: JavaScript keeps it, Python keeps it, serde_json refuses);
//! a member name twice in one object (§4: readers keep the first, the last, or fail); nesting
//! deeper than `MAX_DEPTH` (each reader has its own limit); a number that overflows a double
//! (`1e400`: JavaScript and Python read infinity); `-0`, which Python reads as the integer 0 and
//! JavaScript as minus zero; and anything outside the grammar, which covers `NaN`, `Infinity`,
//! control characters in strings and bytes after the value. What it accepts it returns as the
//! same `serde_json::Value` that serde_json would read (a property test holds it to that).

use serde_json::{Map, Number, Value};

/// Containers (objects and arrays) nested deeper than this are refused. JSON-RPC needs three
/// (batch, message, params); 64 leaves tool arguments room and stays far below every reader's
/// own limit (serde_json 128, Python's recursion limit about 1000).
pub const MAX_DEPTH: usize = 64;

/// Why a body is not JSON the gateway reads unambiguously; each is a JSON-RPC parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonRejection {
    InvalidUtf8,
    ByteOrderMark,
    /// Outside the RFC 8259 grammar: a bad token, `NaN`, `Infinity`, a missing comma, an
    /// unterminated string, an empty body.
    Syntax,
    /// A raw byte below U+0020 inside a string.
    ControlCharacter,
    LoneSurrogate,
    DuplicateMember,
    TooDeep,
    TrailingBytes,
    NumberOutOfRange,
    NegativeZero,
}

impl JsonRejection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid_utf8",
            Self::ByteOrderMark => "byte_order_mark",
            Self::Syntax => "syntax",
            Self::ControlCharacter => "control_character",
            Self::LoneSurrogate => "lone_surrogate",
            Self::DuplicateMember => "duplicate_member",
            Self::TooDeep => "too_deep",
            Self::TrailingBytes => "trailing_bytes",
            Self::NumberOutOfRange => "number_out_of_range",
            Self::NegativeZero => "negative_zero",
        }
    }
}

type Read<T> = Result<T, JsonRejection>;

/// The one value in `bytes`, or why the gateway will not read it.
pub fn parse(bytes: &[u8]) -> Read<Value> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(JsonRejection::ByteOrderMark);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| JsonRejection::InvalidUtf8)?;
    let mut p = Parser { text, i: 0 };
    p.whitespace();
    let value = p.value(1)?;
    p.whitespace();
    if p.i != text.len() {
        return Err(JsonRejection::TrailingBytes);
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn rest(&self) -> &[u8] {
        self.text.as_bytes().get(self.i..).unwrap_or_default()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    /// RFC 8259 §2: exactly space, tab, line feed and carriage return.
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// `depth` counts the containers this value would sit in, itself included.
    fn value(&mut self, depth: usize) -> Read<Value> {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(JsonRejection::Syntax),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Read<Value> {
        if !self.rest().starts_with(word.as_bytes()) {
            return Err(JsonRejection::Syntax);
        }
        self.i += word.len();
        Ok(value)
    }

    fn object(&mut self, depth: usize) -> Read<Value> {
        if depth > MAX_DEPTH {
            return Err(JsonRejection::TooDeep);
        }
        self.i += 1;
        self.whitespace();
        let mut members = Map::new();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(JsonRejection::Syntax);
            }
            let name = self.string()?;
            // Refused before its value is read: nothing later can make a duplicate acceptable.
            if members.contains_key(&name) {
                return Err(JsonRejection::DuplicateMember);
            }
            self.whitespace();
            if !self.eat(b':') {
                return Err(JsonRejection::Syntax);
            }
            self.whitespace();
            let value = self.value(depth + 1)?;
            members.insert(name, value);
            self.whitespace();
            match self.bump() {
                Some(b',') => self.whitespace(),
                Some(b'}') => return Ok(Value::Object(members)),
                _ => return Err(JsonRejection::Syntax),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Read<Value> {
        if depth > MAX_DEPTH {
            return Err(JsonRejection::TooDeep);
        }
        self.i += 1;
        self.whitespace();
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.whitespace();
            match self.bump() {
                Some(b',') => self.whitespace(),
                Some(b']') => return Ok(Value::Array(items)),
                _ => return Err(JsonRejection::Syntax),
            }
        }
    }

    fn string(&mut self) -> Read<String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self
                .peek()
                .is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20)
            {
                self.i += 1;
            }
            // Runs end only at an ASCII byte or the end, so both ends are character boundaries.
            out.push_str(self.text.get(start..self.i).ok_or(JsonRejection::Syntax)?);
            match self.bump() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => return Err(JsonRejection::ControlCharacter),
                None => return Err(JsonRejection::Syntax),
            }
        }
    }

    fn escape(&mut self) -> Read<char> {
        Ok(match self.bump() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => self.unicode_escape()?,
            _ => return Err(JsonRejection::Syntax),
        })
    }

    /// RFC 8259 §7: a character outside the Basic Multilingual Plane is a high surrogate escape
    /// followed at once by a low one; either half alone is no character at all.
    fn unicode_escape(&mut self) -> Read<char> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if !self.rest().starts_with(b"\\u") {
                    return Err(JsonRejection::LoneSurrogate);
                }
                self.i += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(JsonRejection::LoneSurrogate);
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(JsonRejection::LoneSurrogate),
            _ => unit,
        };
        char::from_u32(code).ok_or(JsonRejection::LoneSurrogate)
    }

    fn hex4(&mut self) -> Read<u32> {
        let digits = self
            .text
            .get(self.i..self.i + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(JsonRejection::Syntax)?;
        self.i += 4;
        u32::from_str_radix(digits, 16).map_err(|_| JsonRejection::Syntax)
    }

    fn number(&mut self) -> Read<Value> {
        let start = self.i;
        let negative = self.eat(b'-');
        // A leading zero stands alone: `01` is outside the grammar.
        let zero = match self.bump() {
            Some(b'0') => true,
            Some(b'1'..=b'9') => {
                self.digits();
                false
            }
            _ => return Err(JsonRejection::Syntax),
        };
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            self.digits1()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits1()?;
        }
        if negative && zero && integer {
            return Err(JsonRejection::NegativeZero);
        }
        // The token is grammatical; serde_json turns it into the Number it would have read (an
        // integer when it fits 64 bits, else a double) and refuses a double that overflows.
        let token = self.text.get(start..self.i).ok_or(JsonRejection::Syntax)?;
        serde_json::from_slice::<Number>(token.as_bytes())
            .map(Value::Number)
            .map_err(|_| JsonRejection::NumberOutOfRange)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn digits1(&mut self) -> Read<()> {
        let start = self.i;
        self.digits();
        if self.i == start {
            return Err(JsonRejection::Syntax);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
