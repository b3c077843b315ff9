//! Writes the audit trail off the response path: every record to the log, in lines of up to
//! [`LOG_BATCH`] records (`{"event":"audit","records":[…]}`), and D1 rows in batches (a write per
//! tool call would cost more than the call; a console call per record, as measured on the token
//! path, cost an eighth of the request). A failure to record never
//! fails the request; it is logged and counted, and the count is reported by the admin API.
//! How many rows go to D1 is bounded by `gatehouse_core::audit::bounds::Batcher`; the rows it
//! counts instead of writing are reported too.

use std::cell::{Cell, RefCell};

use gatehouse_core::audit::bounds::{Batcher, Pushed, FLUSH_MS};
use gatehouse_core::audit::record::{json_arrays, COLUMNS};
use gatehouse_core::audit::Record;
use gatehouse_core::wire::json_object::object;
use serde::Deserialize;
use serde_json::Value;
use worker::{console_error, console_log, wasm_bindgen::JsValue, Context, Delay, Env};

use crate::stores::d1::{db, execute};

thread_local! {
    static FAILURES: Cell<u64> = const { Cell::new(0) };
}

/// Audit writes that failed in this isolate since it started.
pub fn failures() -> u64 {
    FAILURES.with(Cell::get)
}

thread_local! {
    static PENDING: RefCell<Batcher> = const { RefCell::new(Batcher::new()) };
}

/// Audit rows this isolate counted instead of writing (beyond the per-interval cap).
pub fn dropped() -> u64 {
    PENDING.with(|p| p.borrow().dropped_total())
}

/// Logs each record and queues it for D1, within the interval's budget.
pub fn write(env: &Env, ctx: &Context, records: Vec<Record>, now_ms: u64) {
    let rows = serialized(&records);
    log(env, ctx, &rows, now_ms);
    let pushed = PENDING.with(|p| p.borrow_mut().push(rows, now_ms));
    carry_out(env, ctx, pushed, now_ms);
}

/// Like `write`, outside the budget: for the operator's own changes, which a flood of calls
/// must not push out of the trail.
pub fn write_exempt(env: &Env, ctx: &Context, records: Vec<Record>, now_ms: u64) {
    let rows = serialized(&records);
    log(env, ctx, &rows, now_ms);
    let pushed = PENDING.with(|p| p.borrow_mut().push_exempt(rows, now_ms));
    carry_out(env, ctx, pushed, now_ms);
}

/// Each record as the JSON object both its log line and its D1 row are made of: serialized once.
fn serialized(records: &[Record]) -> Vec<String> {
    records.iter().map(Record::to_json).collect()
}

/// Records per log line.
const LOG_BATCH: usize = 32;

thread_local! {
    /// Records waiting for their log line, and whether a timed flush of them is scheduled.
    static LOG: RefCell<(Vec<String>, bool)> = const { RefCell::new((Vec::new(), false)) };
}

/// Adds the records to the next log line: written at once when it is full, else within
/// `FLUSH_MS` by a flush this request leaves behind.
fn log(env: &Env, ctx: &Context, rows: &[String], now_ms: u64) {
    let (full, schedule) = LOG.with(|l| {
        let mut l = l.borrow_mut();
        l.0.extend_from_slice(rows);
        let full = (l.0.len() >= LOG_BATCH).then(|| std::mem::take(&mut l.0));
        let schedule = full.is_none() && !l.0.is_empty() && !l.1;
        l.1 |= schedule;
        (full, schedule)
    });
    if let Some(lines) = full {
        emit(&lines);
    }
    if schedule {
        ctx.wait_until(flush_later(env.clone(), now_ms));
    }
}

/// Writes the log line and the rows still queued, `FLUSH_MS` after `now_ms`: so that an isolate
/// that goes quiet still writes them. One future for both, which keeps the Wasm smaller.
async fn flush_later(env: Env, now_ms: u64) {
    Delay::from(std::time::Duration::from_millis(FLUSH_MS)).await;
    let lines = LOG.with(|l| {
        let mut l = l.borrow_mut();
        l.1 = false;
        std::mem::take(&mut l.0)
    });
    if !lines.is_empty() {
        emit(&lines);
    }
    flush_now(&env, now_ms + FLUSH_MS).await;
}

fn emit(lines: &[String]) {
    console_log!("{{\"event\":\"audit\",\"records\":[{}]}}", lines.join(","));
}

fn carry_out(env: &Env, ctx: &Context, pushed: Pushed, now_ms: u64) {
    let env = env.clone();
    if let Some(batch) = pushed.batch {
        ctx.wait_until(async move { insert(&env, batch).await });
    } else if pushed.schedule_flush {
        // Rows queued behind a recent flush get their own, later one.
        ctx.wait_until(flush_later(env, now_ms));
    }
}

/// Writes whatever is queued, now (before the admin API reads the trail).
pub async fn flush_now(env: &Env, now_ms: u64) {
    let batch = PENDING.with(|p| p.borrow_mut().take(now_ms));
    if !batch.is_empty() {
        insert(env, batch).await;
    }
}

/// Bytes of JSON per INSERT: each statement binds one JSON array of records, whose size D1
/// bounds (a bound string of at most 2 MB). A row is at most a few tens of KB, escaped
/// (`AUDIT_MAX_ARG_BYTES` at most 16 KiB of arguments, every other field cut to 128 bytes), so a
/// statement closes before this and never nears the limit.
const STATEMENT_BYTES: usize = 512 * 1024;

/// One statement per JSON array of rows, sent in one batch: the records go as the JSON their log
/// line already has, unpacked by SQLite's `json_each`, so a row costs the isolate no `prepare` and
/// no bind of its own.
async fn insert(env: &Env, records: Vec<String>) {
    let result = async {
        let db = db(env)?;
        let fields = COLUMNS
            .iter()
            .map(|c| format!("json_extract(value, '$.{c}')"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO audit ({}) SELECT {fields} FROM json_each(?1) ORDER BY key",
            COLUMNS.join(", ")
        );
        let statements = json_arrays(&records, STATEMENT_BYTES)
            .iter()
            .map(|json| db.prepare(&sql).bind(&[JsValue::from_str(json)]))
            .collect::<worker::Result<Vec<_>>>()?;
        db.batch(statements).await.map(|_| ())
    }
    .await;
    if let Err(e) = result {
        let count = FAILURES.with(|f| {
            f.set(f.get() + records.len() as u64);
            f.get()
        });
        console_error!(
            "{}",
            object([
                ("event", "audit_write_failed".into()),
                ("error", e.to_string().into()),
                ("failures", count.into()),
            ])
        );
    }
}

#[derive(Deserialize)]
pub struct Filter {
    pub identity: Option<String>,
    pub name: Option<String>,
    pub since: Option<u64>,
    pub until: Option<u64>,
    pub limit: Option<u32>,
}

/// Records matching the filter, newest first.
pub async fn query(env: &Env, f: &Filter) -> worker::Result<Vec<Value>> {
    let sql = format!(
        "SELECT {} FROM audit WHERE (?1 IS NULL OR identity = ?1) AND (?2 IS NULL OR name = ?2) AND ts >= ?3 AND ts <= ?4 ORDER BY ts DESC, id DESC LIMIT ?5",
        COLUMNS.join(", ")
    );
    let opt = |v: &Option<String>| v.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    db(env)?
        .prepare(sql)
        .bind(&[
            opt(&f.identity),
            opt(&f.name),
            JsValue::from_f64(f.since.unwrap_or(0) as f64),
            JsValue::from_f64(f.until.unwrap_or(u64::MAX >> 11) as f64),
            JsValue::from_f64(f64::from(f.limit.unwrap_or(100).clamp(1, 1_000))),
        ])?
        .all()
        .await?
        .results::<Value>()
}

pub async fn purge(env: &Env, now_ms: u64, retention_days: u32) -> worker::Result<usize> {
    let cutoff = now_ms.saturating_sub(u64::from(retention_days) * 86_400_000) as f64;
    execute(env, "DELETE FROM audit WHERE ts < ?1", &[cutoff.into()]).await
}
