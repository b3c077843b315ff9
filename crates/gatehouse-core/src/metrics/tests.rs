use super::*;
use serde_json::json;

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
    for _ in 0..3 {
        d.throttle("id7");
    }
    for i in 0..100_000 {
        d.throttle(&format!("id{i}"));
        assert!(
            d.throttled.len() <= 2 * TOP_KEEP,
            "an isolate's list is bounded too"
        );
    }
    d.throttle("id7");
    s.add(&d, 0);
    assert!(s.minutes[&0].throttled.len() <= TOP_KEEP);
    assert_eq!(
        s.minutes[&0].throttled["id7"], 5,
        "the heaviest survive pruning"
    );
    s.add(&Delta::default(), (KEEP_MINUTES + 5) * 60_000);
    assert!(!s.minutes.contains_key(&0), "older than a day is dropped");
}

fn labels_of<'a>(d: &'a Delta, name: &str, route: &str) -> Vec<&'a str> {
    let prefix = format!("{name}|{route}|");
    d.counters
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .collect()
}

#[test]
fn a_million_distinct_labels_fold_into_a_bounded_delta_that_still_adds_up() {
    let mut d = Delta::default();
    for i in 0..1_000_000u64 {
        d.count("requests", "files", &format!("tool-{i}"), 1 + i % 3);
    }
    let expected: u64 = (0..1_000_000u64).map(|i| 1 + i % 3).sum();
    let labels = labels_of(&d, "requests", "files");
    assert_eq!(labels.len(), bounds::DELTA_LABELS + 1);
    assert!(labels.contains(&bounds::OTHER));
    assert_eq!(
        sum(&d, "requests"),
        expected,
        "nothing is lost, only folded"
    );
    assert_eq!(
        d.counters["requests|files|tool-0"], 1,
        "the first labels keep their own count"
    );
}

#[test]
fn the_series_keeps_more_labels_than_a_delta_but_still_a_bounded_number() {
    let mut s = Series::default();
    let mut sent = 0;
    for batch in 0..1_000u64 {
        let mut d = Delta::default();
        for i in 0..50 {
            d.count("requests", "files", &format!("t{batch}-{i}"), 1);
            d.count("payment_required", "files", &format!("t{batch}-{i}"), 1);
            sent += 1;
        }
        // Two minutes, so the totals merge two capped minutes into one capped total.
        s.add(&d, (batch % 2) * 60_000);
    }
    for minute in s.minutes.values() {
        assert_eq!(
            labels_of(minute, "requests", "files").len(),
            bounds::SERIES_LABELS + 1
        );
    }
    let st = s.stats(0, 120_000);
    assert_eq!(st["totals"]["requests"], sent);
    assert_eq!(st["totals"]["payment_required"], sent);
    let rows = st["per_route_and_tool"].as_array().unwrap();
    assert_eq!(rows.len(), bounds::SERIES_LABELS + 1);
    let other = rows.iter().find(|r| r["tool"] == bounds::OTHER).unwrap();
    let named: u64 = rows
        .iter()
        .filter(|r| r["tool"] != bounds::OTHER)
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(named + other["requests"].as_u64().unwrap(), sent);
}

#[test]
fn labels_are_cut_and_cannot_forge_a_key() {
    let mut d = Delta::default();
    d.count("requests", "files", &"é".repeat(1_000), 1);
    d.count("requests", "files", "a|b|c", 1);
    let labels = labels_of(&d, "requests", "files");
    assert!(labels.iter().all(|l| l.len() <= bounds::MAX_LABEL_BYTES));
    assert!(labels.contains(&"a/b/c"));
    let st = {
        let mut s = Series::default();
        s.add(&d, 0);
        s.stats(0, 60_000)
    };
    assert_eq!(st["per_route_and_tool"].as_array().unwrap().len(), 2);
}

#[test]
fn routes_are_capped_per_counter() {
    let mut d = Delta::default();
    for r in 0..500 {
        d.count("requests", &format!("route-{r}"), "echo", 1);
    }
    let routes: std::collections::BTreeSet<&str> = d
        .counters
        .keys()
        .filter_map(|k| k.split('|').nth(1))
        .collect();
    assert_eq!(routes.len(), bounds::MAX_ROUTES + 1);
    assert_eq!(
        d.counters["requests|other|echo"],
        500 - bounds::MAX_ROUTES as u64
    );
    assert_eq!(sum(&d, "requests"), 500);
}

#[test]
fn a_delta_that_was_stored_before_the_caps_is_folded_on_merge() {
    let mut old = Delta::default();
    for i in 0..1_000 {
        old.counters.insert(format!("requests|files|t{i}"), 2);
    }
    let mut minute = Delta::default();
    minute.merge(&old);
    assert_eq!(
        labels_of(&minute, "requests", "files").len(),
        bounds::SERIES_LABELS + 1
    );
    assert_eq!(sum(&minute, "requests"), 2_000);
}

#[test]
fn the_most_throttled_are_ranked_as_a_stable_sort_ranks_them() {
    let mut map = BTreeMap::new();
    for i in 0..300u64 {
        // Counts with many ties, in an order unrelated to the names'.
        map.insert(format!("id{:03}", (i * 37) % 300), (i * 7919) % 13);
    }
    let mut reference: Vec<(&String, u64)> = map.iter().map(|(k, v)| (k, *v)).collect();
    reference.sort_by_key(|e| std::cmp::Reverse(e.1));
    for k in [0, 1, 10, TOP_KEEP, 299, 300, 400] {
        let expected: Vec<_> = reference.iter().take(k).cloned().collect();
        assert_eq!(most_throttled(&map, k), expected, "k = {k}");
    }
}

#[test]
fn a_range_that_ends_before_it_starts_is_empty_not_a_panic() {
    let mut series = Series::default();
    let mut d = Delta::default();
    d.count("requests", "main", "echo", 3);
    series.add(&d, 120_000);
    let st = series.stats(120_000, 0);
    assert_eq!(
        st["totals"]["requests"], 3,
        "the range is the one minute it starts at"
    );
    assert_eq!(series.stats(u64::MAX, 0)["totals"]["requests"], 0);
}
