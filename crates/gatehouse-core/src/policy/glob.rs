//! Name patterns for tools, resources and methods: `*` matches any run of characters, anything
//! else matches itself. `heavy_*`, `*/list`, `file:///reports/*`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: &str) -> Self {
        Self(text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matcher with one backtrack point: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] != b'*' && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            p += 1;
            mark = t;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run() {
        let cases = [
            ("heavy_*", "heavy_report", true),
            ("heavy_*", "light_report", false),
            ("*/list", "tools/list", true),
            ("*/list", "tools/call", false),
            ("echo", "echo", true),
            ("echo", "echo2", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("file:///r/*", "file:///r/2026/q1.csv", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(Pattern::new(p).matches(t), want, "{p} ~ {t}");
        }
    }
}
