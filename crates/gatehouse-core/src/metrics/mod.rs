//! Operational metrics, aggregated without a write per request: each isolate adds events to a
//! `Delta` in memory and ships it now and then to one Durable Object, which folds deltas into
//! per-minute buckets for the last day. Everything here is pure; `now` is passed in.
//!
//! Counters are keyed `name|route|label` (`requests|files|echo`, `challenges_issued|files|pow`,
//! `token_failures|-|expired`). Durations go into fixed histogram buckets, from which
//! percentiles are read back. Labels come from callers (tool names), so `bounds` caps how many
//! are kept and how long they are; the rest is counted under `other`.

pub mod bounds;

use std::collections::BTreeMap;

use bounds::{clean, Folder, DELTA_LABELS, MAX_IDENTITY_BYTES, SERIES_LABELS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::json_object::object;

/// Upper bounds (ms) of the histogram buckets; the last catches everything above.
pub const BUCKETS_MS: [u64; 12] = [
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    u64::MAX,
];
/// Identities kept per minute for "top throttled"; the rest are dropped, least first.
const TOP_KEEP: usize = 50;
/// A day of minutes.
pub const KEEP_MINUTES: u64 = 24 * 60;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub counters: BTreeMap<String, u64>,
    pub histograms: BTreeMap<String, Vec<u64>>,
    pub throttled: BTreeMap<String, u64>,
    /// The last difficulty seen in challenges, if any were issued.
    pub difficulty: Option<u8>,
    /// Group sizes, for the caps; rebuilt from `counters` after deserialization.
    #[serde(skip)]
    folder: Folder,
}

impl Delta {
    /// Adds `n` to `name|route|label`, within the caps of an isolate's delta.
    pub fn count(&mut self, name: &str, route: &str, label: &str, n: u64) {
        self.folder
            .add(&mut self.counters, name, route, label, n, DELTA_LABELS);
    }

    pub fn observe(&mut self, name: &str, ms: u64) {
        let h = self
            .histograms
            .entry(name.to_string())
            .or_insert_with(|| vec![0; BUCKETS_MS.len()]);
        let i = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len() - 1);
        h[i] += 1;
    }

    pub fn throttle(&mut self, identity: &str) {
        *self
            .throttled
            .entry(clean(identity, MAX_IDENTITY_BYTES).into_owned())
            .or_default() += 1;
        // Pruned in steps, so the sort runs once per `TOP_KEEP` new identities, not per denial.
        if self.throttled.len() > 2 * TOP_KEEP {
            self.keep_top_throttled();
        }
    }

    fn keep_top_throttled(&mut self) {
        let mut kept = BTreeMap::new();
        for (identity, n) in most_throttled(&self.throttled, TOP_KEEP) {
            kept.insert(identity.clone(), n);
        }
        self.throttled = kept;
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
            && self.histograms.is_empty()
            && self.throttled.is_empty()
            && self.difficulty.is_none()
    }

    /// A counter's total over every route, for one label (`challenges_solved` of `pow`).
    pub fn total(&self, name: &str, label_: &str) -> u64 {
        label(self, name, label_)
    }

    pub fn size(&self) -> usize {
        self.counters.len() + self.histograms.len() + self.throttled.len()
    }

    /// Folds `other` in, within the caps of a minute of the series (every total is kept; labels
    /// beyond the cap are counted under `other`).
    pub fn merge(&mut self, other: &Delta) {
        for (k, v) in &other.counters {
            let mut parts = k.splitn(3, '|');
            let (name, route, label) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            self.folder
                .add(&mut self.counters, name, route, label, *v, SERIES_LABELS);
        }
        for (k, v) in &other.histograms {
            let h = self
                .histograms
                .entry(k.clone())
                .or_insert_with(|| vec![0; BUCKETS_MS.len()]);
            for (a, b) in h.iter_mut().zip(v) {
                *a += b;
            }
        }
        for (k, v) in &other.throttled {
            *self.throttled.entry(k.clone()).or_default() += v;
        }
        if other.difficulty.is_some() {
            self.difficulty = other.difficulty;
        }
        if self.throttled.len() > TOP_KEEP {
            self.keep_top_throttled();
        }
    }
}

/// What the metrics object stores: one delta per minute (Unix minute), a day of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub minutes: BTreeMap<u64, Delta>,
}

impl Series {
    pub fn add(&mut self, delta: &Delta, now_ms: u64) {
        let minute = now_ms / 60_000;
        self.minutes.entry(minute).or_default().merge(delta);
        self.minutes.retain(|m, _| *m + KEEP_MINUTES > minute);
    }

    /// Totals, per-minute series and percentiles over `[since_ms, until_ms]`.
    pub fn stats(&self, since_ms: u64, until_ms: u64) -> Value {
        // A range that ends before it starts is empty (`BTreeMap::range` would panic on it).
        let until_ms = until_ms.max(since_ms);
        let range = (since_ms / 60_000)..=(until_ms / 60_000);
        let mut total = Delta::default();
        let mut series = Vec::new();
        for (minute, d) in self.minutes.range(range) {
            total.merge(d);
            series.push(object([
                ("minute", (minute * 60).into()),
                ("requests", sum(d, "requests").into()),
                ("payment_required_pow", label(d, "offered", "pow").into()),
                ("payment_required_l402", label(d, "offered", "l402").into()),
                ("payment_required_x402", label(d, "offered", "x402").into()),
                ("rate_limited", sum(d, "rate_limited").into()),
                ("solved", sum(d, "challenges_solved").into()),
                ("difficulty", d.difficulty.into()),
            ]));
        }
        let top = most_throttled(&total.throttled, 10);
        let by_type = object([
            ("pow", label(&total, "offered", "pow").into()),
            ("l402", label(&total, "offered", "l402").into()),
            ("x402", label(&total, "offered", "x402").into()),
        ]);
        let totals = object([
            ("requests", sum(&total, "requests").into()),
            ("payment_required", sum(&total, "payment_required").into()),
            ("payment_required_by_type", by_type),
            ("rate_limited", sum(&total, "rate_limited").into()),
            ("in_band", sum(&total, "in_band").into()),
            ("challenges_issued", by_label(&total, "challenges_issued")),
            ("challenges_solved", by_label(&total, "challenges_solved")),
            ("challenges_failed", by_label(&total, "challenges_failed")),
            (
                "challenges_expired_unredeemed",
                sum(&total, "challenges_expired").into(),
            ),
            ("token_failures", by_label(&total, "token_failures")),
            // Proof-of-work offers by the difficulty actually served (escalation included).
            ("difficulty_served", by_label(&total, SERVED_BITS)),
        ]);
        let top: Vec<Value> = top
            .into_iter()
            .map(|(k, v)| object([("identity", k.as_str().into()), ("denials", v.into())]))
            .collect();
        object([
            ("since", since_ms.into()),
            ("until", until_ms.into()),
            ("totals", totals),
            ("per_route_and_tool", per_route_and_tool(&total)),
            ("solve_ms", percentiles(total.histograms.get("solve_ms"))),
            (
                "redemption_ms",
                percentiles(total.histograms.get("redemption_ms")),
            ),
            ("difficulty", total.difficulty.into()),
            ("top_throttled", top.into()),
            ("series", series.into()),
        ])
    }
}

/// The counter of proof-of-work offers, labelled with the difficulty each was served at.
pub const SERVED_BITS: &str = "pow_bits";

/// The `k` identities with the most denials, most first, ties in the map's (identity) order.
/// Each identity is inserted into the top `k` so far, after those with as many: O(n·k) for the
/// map's few hundred identities at most (a delta keeps `2 × TOP_KEEP`), and a few lines of Wasm
/// where the standard library's sort is ~4 KB.
fn most_throttled(throttled: &BTreeMap<String, u64>, k: usize) -> Vec<(&String, u64)> {
    let mut top: Vec<(&String, u64)> = Vec::with_capacity(k + 1);
    for (identity, &n) in throttled {
        let at = top.iter().position(|(_, m)| *m < n).unwrap_or(top.len());
        if at < k {
            top.insert(at, (identity, n));
            top.truncate(k);
        }
    }
    top
}

fn sum(d: &Delta, name: &str) -> u64 {
    d.counters
        .iter()
        .filter(|(k, _)| k.split('|').next() == Some(name))
        .map(|(_, v)| v)
        .sum()
}

fn label(d: &Delta, name: &str, label: &str) -> u64 {
    d.counters
        .iter()
        .filter(|(k, _)| {
            let p: Vec<&str> = k.split('|').collect();
            p[0] == name && p.get(2) == Some(&label)
        })
        .map(|(_, v)| v)
        .sum()
}

fn by_label(d: &Delta, name: &str) -> Value {
    let mut out = BTreeMap::<String, u64>::new();
    for (k, v) in d
        .counters
        .iter()
        .filter(|(k, _)| k.split('|').next() == Some(name))
    {
        *out.entry(k.split('|').nth(2).unwrap_or("").to_string())
            .or_default() += v;
    }
    let mut map = serde_json::Map::new();
    for (k, v) in out {
        map.insert(k, v.into());
    }
    Value::Object(map)
}

fn per_route_and_tool(d: &Delta) -> Value {
    let mut rows: BTreeMap<(String, String), BTreeMap<&str, u64>> = BTreeMap::new();
    for (k, v) in &d.counters {
        let p: Vec<&str> = k.split('|').collect();
        if let ["requests" | "payment_required" | "rate_limited", route, tool] = p.as_slice() {
            *rows
                .entry((route.to_string(), tool.to_string()))
                .or_default()
                .entry(p[0])
                .or_default() += v;
        }
    }
    let count =
        |c: &BTreeMap<&str, u64>, name: &str| Value::from(c.get(name).copied().unwrap_or(0));
    rows.into_iter()
        .map(|((route, tool), c)| {
            object([
                ("route", route.into()),
                ("tool", tool.into()),
                ("requests", count(&c, "requests")),
                ("payment_required", count(&c, "payment_required")),
                ("rate_limited", count(&c, "rate_limited")),
            ])
        })
        .collect()
}

/// p50/p90/p99 as the upper bound of the bucket the rank falls in, and the count.
pub fn percentiles(h: Option<&Vec<u64>>) -> Value {
    let Some(h) = h else {
        return object([("count", 0.into())]);
    };
    let n: u64 = h.iter().sum();
    let at = |q: f64| {
        let rank = ((n as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in h.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return BUCKETS_MS[i].min(60_000 * 60);
            }
        }
        0
    };
    object([
        ("count", n.into()),
        ("p50", at(0.5).into()),
        ("p90", at(0.9).into()),
        ("p99", at(0.99).into()),
    ])
}

#[cfg(test)]
mod tests;
