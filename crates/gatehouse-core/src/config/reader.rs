//! Reads typed values from the Worker's string variables, collecting every problem instead of
//! stopping at the first, so an operator fixes a bad deployment in one pass.

use std::ops::RangeInclusive;

pub struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    pub problems: Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            get,
            problems: Vec::new(),
        }
    }

    /// The trimmed value, with an empty string read as unset.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&mut self, name: &str) -> Option<String> {
        let value = self.text(name);
        if value.is_none() {
            self.problems.push(format!("{name} is required"));
        }
        value
    }

    pub fn number(&mut self, name: &str, default: u32, range: RangeInclusive<u32>) -> u32 {
        let Some(raw) = self.text(name) else {
            return default;
        };
        match raw.parse::<u32>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                self.problems.push(format!(
                    "{name}={raw:?} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ));
                default
            }
        }
    }

    pub fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.text(name).as_deref() {
            None => default,
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                self.problems
                    .push(format!("{name}={other:?} must be true or false"));
                default
            }
        }
    }

    pub fn problem(&mut self, line: String) {
        self.problems.push(line);
    }
}
