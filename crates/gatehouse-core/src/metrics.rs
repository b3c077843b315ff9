//! Operational metrics, aggregated without a write per request: each isolate adds events to a
//! `Delta` in memory and ships it now and then to one Durable Object, which folds deltas into
//! per-minute buckets for the last day. Everything here is pure; `now` is passed in.
//!
//! Counters are keyed `name|route|label` (`requests|files|echo`, `challenges_issued|files|pow`,
//! `token_failures|-|expired`). Durations go into fixed histogram buckets, from which
//! percentiles are read back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
}

impl Delta {
    pub fn count(&mut self, name: &str, route: &str, label: &str, n: u64) {
        *self
            .counters
            .entry(format!("{name}|{route}|{label}"))
            .or_default() += n;
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
        *self.throttled.entry(identity.to_string()).or_default() += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
            && self.histograms.is_empty()
            && self.throttled.is_empty()
            && self.difficulty.is_none()
    }

    pub fn size(&self) -> usize {
        self.counters.len() + self.histograms.len() + self.throttled.len()
    }

    pub fn merge(&mut self, other: &Delta) {
        for (k, v) in &other.counters {
            *self.counters.entry(k.clone()).or_default() += v;
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
            let mut all: Vec<_> = std::mem::take(&mut self.throttled).into_iter().collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            self.throttled = all.into_iter().take(TOP_KEEP).collect();
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
        let range = (since_ms / 60_000)..=(until_ms / 60_000);
        let mut total = Delta::default();
        let mut series = Vec::new();
        for (minute, d) in self.minutes.range(range) {
            total.merge(d);
            series.push(json!({
                "minute": minute * 60,
                "requests": sum(d, "requests"),
                "payment_required_pow": label(d, "offered", "pow"),
                "payment_required_l402": label(d, "offered", "l402"),
                "rate_limited": sum(d, "rate_limited"),
                "solved": sum(d, "challenges_solved"),
                "difficulty": d.difficulty,
            }));
        }
        let mut top: Vec<(&String, &u64)> = total.throttled.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        json!({
            "since": since_ms,
            "until": until_ms,
            "totals": {
                "requests": sum(&total, "requests"),
                "payment_required": sum(&total, "payment_required"),
                "payment_required_by_type": { "pow": label(&total, "offered", "pow"), "l402": label(&total, "offered", "l402") },
                "rate_limited": sum(&total, "rate_limited"),
                "in_band": sum(&total, "in_band"),
                "challenges_issued": by_label(&total, "challenges_issued"),
                "challenges_solved": by_label(&total, "challenges_solved"),
                "challenges_failed": by_label(&total, "challenges_failed"),
                "challenges_expired_unredeemed": sum(&total, "challenges_expired"),
                "token_failures": by_label(&total, "token_failures"),
            },
            "per_route_and_tool": per_route_and_tool(&total),
            "solve_ms": percentiles(total.histograms.get("solve_ms")),
            "redemption_ms": percentiles(total.histograms.get("redemption_ms")),
            "difficulty": total.difficulty,
            "top_throttled": top.into_iter().take(10).map(|(k, v)| json!({"identity": k, "denials": v})).collect::<Vec<_>>(),
            "series": series,
        })
    }
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
    json!(out)
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
    json!(rows.into_iter().map(|((route, tool), c)| json!({"route": route, "tool": tool, "requests": c.get("requests").copied().unwrap_or(0), "payment_required": c.get("payment_required").copied().unwrap_or(0), "rate_limited": c.get("rate_limited").copied().unwrap_or(0)})).collect::<Vec<_>>())
}

/// p50/p90/p99 as the upper bound of the bucket the rank falls in, and the count.
pub fn percentiles(h: Option<&Vec<u64>>) -> Value {
    let Some(h) = h else {
        return json!({"count": 0});
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
    json!({"count": n, "p50": at(0.5), "p90": at(0.9), "p99": at(0.99)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_merge_into_minutes_and_totals() {
        let mut s = Series::default();
        let mut a = Delta::default();
        a.count("requests", "files", "echo", 3);
        a.count("offered", "files", "pow", 1);
        a.count("payment_required", "files", "echo", 1);
        a.observe("solve_ms", 40);
        a.throttle("key:abc");
        a.difficulty = Some(14);
        s.add(&a, 60_000);
        let mut b = Delta::default();
        b.count("requests", "files", "echo", 2);
        b.count("challenges_solved", "files", "pow", 1);
        b.observe("solve_ms", 900);
        b.throttle("key:abc");
        s.add(&b, 125_000);
        let st = s.stats(0, 200_000);
        assert_eq!(st["totals"]["requests"], 5);
        assert_eq!(st["totals"]["payment_required_by_type"]["pow"], 1);
        assert_eq!(st["totals"]["challenges_solved"]["pow"], 1);
        assert_eq!(st["series"].as_array().unwrap().len(), 2);
        assert_eq!(
            st["top_throttled"][0],
            json!({"identity": "key:abc", "denials": 2})
        );
        assert_eq!(
            st["solve_ms"],
            json!({"count": 2, "p50": 50, "p90": 1000, "p99": 1000})
        );
        assert_eq!(st["difficulty"], 14);
        assert_eq!(
            st["per_route_and_tool"][0],
            json!({"route": "files", "tool": "echo", "requests": 5, "payment_required": 1, "rate_limited": 0})
        );
        assert_eq!(
            s.stats(120_000, 200_000)["totals"]["requests"],
            2,
            "a range selects minutes"
        );
    }

    #[test]
    fn a_day_is_kept_and_top_throttled_is_bounded() {
        let mut s = Series::default();
        let mut d = Delta::default();
        for i in 0..200 {
            d.throttle(&format!("id{i}"));
        }
        d.throttle("id7");
        s.add(&d, 0);
        assert!(s.minutes[&0].throttled.len() <= TOP_KEEP);
        assert_eq!(s.minutes[&0].throttled["id7"], 2);
        s.add(&Delta::default(), (KEEP_MINUTES + 5) * 60_000);
        assert!(!s.minutes.contains_key(&0), "older than a day is dropped");
    }
}
