//! What bounds the audit trail's cost, whatever callers send: field lengths, rows per request
//! (in `records`), and rows per flush interval per isolate (here, in `Batcher`). Rows beyond the
//! interval's budget are counted, not written, and the count is written as one `other` row.

use super::record::Record;
use crate::wire::json_object::object;

/// Names, labels and identities are cut to this many bytes (at a character boundary).
pub const MAX_FIELD_BYTES: usize = 128;

/// Rows go to D1 in batches: at most every `FLUSH_MS`, or once `FLUSH_ROWS` wait.
pub const FLUSH_MS: u64 = 2_000;
pub const FLUSH_ROWS: usize = 50;
/// Rows one isolate queues for D1 per `FLUSH_MS` window; the rest are counted as dropped.
pub const MAX_ROWS_PER_INTERVAL: usize = 200;

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One isolate's queue of rows on their way to D1, and its interval budget. A row is kept as the
/// JSON its log line already has ([`Record::to_json`]), so it is serialized once.
#[derive(Debug, Default)]
pub struct Batcher {
    pending: Vec<String>,
    last_flush_ms: u64,
    window_start_ms: u64,
    queued_in_window: usize,
    /// Dropped since the last summary row was taken.
    dropped_unreported: u64,
    dropped_total: u64,
}

/// What a push asks of the shell: write this batch now, or make sure a later flush will come.
#[derive(Debug, PartialEq)]
pub struct Pushed {
    pub batch: Option<Vec<String>>,
    /// The queue was idle and is not due yet: schedule a flush `FLUSH_MS` from now.
    pub schedule_flush: bool,
}

impl Batcher {
    pub const fn new() -> Self {
        Batcher {
            pending: Vec::new(),
            last_flush_ms: 0,
            window_start_ms: 0,
            queued_in_window: 0,
            dropped_unreported: 0,
            dropped_total: 0,
        }
    }

    /// Queues what this window's budget allows of `rows` and counts the rest as dropped.
    pub fn push(&mut self, rows: Vec<String>, now_ms: u64) -> Pushed {
        if now_ms.saturating_sub(self.window_start_ms) >= FLUSH_MS {
            self.window_start_ms = now_ms;
            self.queued_in_window = 0;
        }
        let was_idle = self.is_idle();
        let room = MAX_ROWS_PER_INTERVAL.saturating_sub(self.queued_in_window);
        let dropped = rows.len().saturating_sub(room) as u64;
        self.queued_in_window += rows.len().min(room);
        self.dropped_unreported += dropped;
        self.dropped_total += dropped;
        self.queue(rows.into_iter().take(room), now_ms, was_idle)
    }

    /// Queues `rows` outside the budget: the few the operator's own changes produce, which a
    /// flood of calls must not be able to push out of the trail.
    pub fn push_exempt(&mut self, rows: Vec<String>, now_ms: u64) -> Pushed {
        let was_idle = self.is_idle();
        self.queue(rows.into_iter(), now_ms, was_idle)
    }

    fn queue(&mut self, rows: impl Iterator<Item = String>, now_ms: u64, was_idle: bool) -> Pushed {
        self.pending.extend(rows);
        let due = !self.is_idle()
            && (self.pending.len() >= FLUSH_ROWS
                || now_ms.saturating_sub(self.last_flush_ms) >= FLUSH_MS);
        if due {
            return Pushed {
                batch: Some(self.take(now_ms)),
                schedule_flush: false,
            };
        }
        Pushed {
            batch: None,
            schedule_flush: was_idle && !self.is_idle(),
        }
    }

    fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.dropped_unreported == 0
    }

    /// Everything queued, plus one `other` row saying how many rows were dropped since the last
    /// such row, if any were.
    pub fn take(&mut self, now_ms: u64) -> Vec<String> {
        self.last_flush_ms = now_ms;
        let mut batch = std::mem::take(&mut self.pending);
        if self.dropped_unreported > 0 {
            batch.push(dropped_row(self.dropped_unreported, now_ms).to_json());
            self.dropped_unreported = 0;
        }
        batch
    }

    /// Rows this isolate counted instead of writing, since it started.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }
}

fn dropped_row(dropped: u64, now_ms: u64) -> Record {
    Record {
        ts: now_ms,
        route: "-".into(),
        identity: "-".into(),
        method: "other".into(),
        name: Some("other".into()),
        arguments: object([("dropped_rows", dropped.into())]).to_string(),
        challenge: "audit_rows_dropped".into(),
        ..Record::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn rows(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                Record {
                    method: "tools/call".into(),
                    name: Some(format!("t{i}")),
                    ..Record::default()
                }
                .to_json()
            })
            .collect()
    }

    fn method(row: &str) -> String {
        let v: Value = serde_json::from_str(row).unwrap();
        v["method"].as_str().unwrap().to_string()
    }

    fn dropped_in(batch: &[String]) -> u64 {
        batch
            .iter()
            .filter(|r| method(r) == "other")
            .map(|r| {
                let row: Value = serde_json::from_str(r).unwrap();
                let args: Value = serde_json::from_str(row["arguments"].as_str().unwrap()).unwrap();
                args["dropped_rows"].as_u64().unwrap()
            })
            .sum()
    }

    #[test]
    fn cut_stops_at_a_character_boundary() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }

    #[test]
    fn a_window_queues_at_most_its_budget_and_reports_the_rest_once() {
        let mut b = Batcher::new();
        let mut written = Vec::new();
        let t0 = 1_000_000;
        for i in 0..100 {
            // 100 pushes of 16 rows inside one window.
            if let Some(batch) = b.push(rows(16), t0 + i).batch {
                written.extend(batch);
            }
        }
        written.extend(b.take(t0 + 100));
        let calls = written.iter().filter(|r| method(r) != "other").count();
        assert_eq!(calls, MAX_ROWS_PER_INTERVAL);
        assert_eq!(dropped_in(&written), 1_600 - MAX_ROWS_PER_INTERVAL as u64);
        assert_eq!(b.dropped_total(), 1_600 - MAX_ROWS_PER_INTERVAL as u64);
        assert!(b.take(t0 + 101).is_empty(), "the count is reported once");
    }

    #[test]
    fn a_new_window_has_a_fresh_budget() {
        let mut b = Batcher::new();
        b.push(rows(300), 10_000);
        b.take(10_000);
        let p = b.push(rows(300), 10_000 + FLUSH_MS);
        let batch = p.batch.expect("a full queue is due");
        assert_eq!(batch.iter().filter(|r| method(r) != "other").count(), 200);
        assert_eq!(dropped_in(&batch), 100);
        assert_eq!(b.dropped_total(), 200);
    }

    #[test]
    fn a_quiet_queue_asks_for_a_later_flush_once() {
        let mut b = Batcher::new();
        assert!(
            b.push(rows(1), 5_000).batch.is_some(),
            "the first flush is due"
        );
        let p = b.push(rows(1), 5_001);
        assert_eq!((p.batch.is_none(), p.schedule_flush), (true, true));
        assert!(!b.push(rows(1), 5_002).schedule_flush, "one is on its way");
        assert_eq!(b.take(5_000 + FLUSH_MS).len(), 2);
    }

    #[test]
    fn dropped_rows_alone_still_get_flushed() {
        let mut b = Batcher::new();
        b.push(rows(MAX_ROWS_PER_INTERVAL), 7_000);
        b.take(7_000);
        let p = b.push(rows(5), 7_001);
        assert!(
            p.schedule_flush,
            "nothing queued, but a count waits to be written"
        );
        assert_eq!(dropped_in(&b.take(9_001)), 5);
    }

    #[test]
    fn operator_rows_are_never_dropped() {
        let mut b = Batcher::new();
        let mut batch = b
            .push(rows(MAX_ROWS_PER_INTERVAL + 10), 3_000)
            .batch
            .unwrap();
        b.push_exempt(rows(1), 3_001);
        batch.extend(b.take(3_002));
        assert_eq!(
            batch.iter().filter(|r| method(r) != "other").count(),
            MAX_ROWS_PER_INTERVAL + 1
        );
        assert_eq!(dropped_in(&batch), 10);
    }
}
