use super::*;

const T0: u64 = 1_000_000;

fn fetched_at(t: u64) -> FetchSchedule {
    let mut s = FetchSchedule::default();
    s.begin(t);
    s.succeeded(t);
    s
}

fn failing_since(t: u64, failures: u32) -> FetchSchedule {
    let mut s = FetchSchedule::default();
    let mut now = t;
    for _ in 0..failures {
        s.begin(now);
        s.failed(now);
        now = s.retry_at_ms;
    }
    s
}

#[test]
fn a_fresh_isolate_fetches_first() {
    let s = FetchSchedule::default();
    assert_eq!(s.plan(T0, false), Plan::Fetch);
}

#[test]
fn fresh_keys_answer_without_a_fetch_and_expire_after_the_ttl() {
    let s = fetched_at(T0);
    assert_eq!(s.plan(T0 + TTL_MS - 1, true), Plan::UseCache);
    assert_eq!(s.plan(T0 + TTL_MS, true), Plan::Fetch);
}

#[test]
fn an_unknown_key_id_refetches_at_most_once_per_gap() {
    let s = fetched_at(T0);
    assert_eq!(s.plan(T0 + 1, false), Plan::UseCache, "token's fault: 401");
    assert_eq!(s.plan(T0 + REFRESH_GAP_MS - 1, false), Plan::UseCache);
    assert_eq!(s.plan(T0 + REFRESH_GAP_MS, false), Plan::Fetch);
}

#[test]
fn while_a_fetch_is_under_way_others_use_the_cache_or_wait_for_it() {
    let mut s = fetched_at(T0);
    s.begin(T0 + TTL_MS);
    assert_eq!(
        s.plan(T0 + TTL_MS + 5, true),
        Plan::UseCache,
        "stale keys meanwhile"
    );
    assert_eq!(s.plan(T0 + TTL_MS + 5, false), Plan::Wait);
    let mut cold = FetchSchedule::default();
    cold.begin(T0);
    assert_eq!(cold.plan(T0, false), Plan::Wait, "not a second fetch");
    assert_eq!(
        cold.plan(T0 - 3, false),
        Plan::Wait,
        "a request that read the clock earlier"
    );
}

#[test]
fn an_abandoned_fetch_does_not_block_the_next_forever() {
    let mut s = FetchSchedule::default();
    s.begin(T0);
    assert_eq!(s.plan(T0 + ATTEMPT_EXPIRY_MS - 1, false), Plan::Wait);
    assert_eq!(s.plan(T0 + ATTEMPT_EXPIRY_MS, false), Plan::Fetch);
}

#[test]
fn after_a_failure_nothing_is_fetched_until_the_backoff_ends() {
    let s = failing_since(T0, 1);
    assert!(s.backing_off(T0));
    assert_eq!(s.plan(T0 + BACKOFF_BASE_MS - 1, false), Plan::Unavailable);
    assert_eq!(s.plan(T0 + BACKOFF_BASE_MS, false), Plan::Fetch);
}

#[test]
fn during_backoff_known_keys_keep_working_and_unknown_ones_are_unavailable() {
    let mut s = fetched_at(T0);
    let later = T0 + REFRESH_GAP_MS;
    assert_eq!(s.plan(later, false), Plan::Fetch);
    s.begin(later);
    s.failed(later);
    assert_eq!(s.plan(later + 1, true), Plan::UseCache);
    assert_eq!(
        s.plan(later + 1, false),
        Plan::Unavailable,
        "503, not a 401"
    );
    // Even stale keys keep working while the server is down.
    let s = {
        let mut s = fetched_at(T0);
        s.begin(T0 + TTL_MS);
        s.failed(T0 + TTL_MS);
        s
    };
    assert_eq!(s.plan(T0 + TTL_MS + 1, true), Plan::UseCache);
}

#[test]
fn once_a_backoff_ends_an_unknown_key_is_asked_for_again_without_waiting_out_the_gap() {
    let mut s = fetched_at(T0);
    let later = T0 + REFRESH_GAP_MS;
    s.begin(later);
    s.failed(later);
    let after = later + backoff_ms(1);
    assert_eq!(s.plan(after, false), Plan::Fetch);
    assert_eq!(s.plan(after, true), Plan::UseCache);
}

#[test]
fn the_backoff_doubles_up_to_its_ceiling() {
    let delays: Vec<u64> = (1..=9).map(backoff_ms).collect();
    assert_eq!(
        delays,
        [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
    );
    assert_eq!(backoff_ms(u32::MAX), BACKOFF_CEILING_MS);
    assert_eq!(backoff_ms(0), BACKOFF_BASE_MS);
}

#[test]
fn a_success_ends_the_backoff() {
    let mut s = failing_since(T0, 5);
    let now = s.retry_at_ms;
    assert_eq!(s.plan(now, false), Plan::Fetch);
    s.begin(now);
    s.succeeded(now);
    assert!(!s.backing_off(now));
    s.begin(now + REFRESH_GAP_MS);
    s.failed(now + REFRESH_GAP_MS);
    assert_eq!(
        s.plan(now + REFRESH_GAP_MS + BACKOFF_BASE_MS, false),
        Plan::Fetch,
        "the count started over"
    );
}

#[test]
fn a_server_failing_for_an_hour_is_fetched_from_a_bounded_number_of_times() {
    // One request per 10 ms for an hour, each needing a key the cache lacks.
    let mut s = FetchSchedule::default();
    let mut fetches = 0;
    for now in (T0..T0 + 3_600_000).step_by(10) {
        if s.plan(now, false) == Plan::Fetch {
            fetches += 1;
            s.begin(now);
            s.failed(now);
        }
    }
    // 1 + 2 + ... + 32 s of doubling, then one a minute.
    assert!((60..=68).contains(&fetches), "{fetches} fetches");
}
