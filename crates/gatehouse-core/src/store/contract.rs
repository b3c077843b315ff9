//! The contract every store backend must meet, as one suite: natively against `memory`
//! (`tests/store_contract.rs`), and in workerd against D1 and the Durable Objects (the shell's
//! contract route, driven by `tests/store_contract.test.mjs`).
//!
//! Checks return `Err(reason)` rather than panic, so that the Worker can report them. Every key
//! is prefixed with `ns`, so that runs against a shared backend never meet.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::{ChallengeRecord, ChallengeStore, Counters, CredentialUsage, Revocations};
use crate::credentials::grant::Ask;
use crate::metering::quota::{Check, Policy, Window};
use crate::rails::challenge::Puzzle;

pub type Outcome = (&'static str, Result<(), String>);

fn ensure(ok: bool, why: impl Into<String>) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why.into())
    }
}

macro_rules! tried {
    ($e:expr) => {
        $e.map_err(|u| format!("backend unavailable: {}", u.0))?
    };
}

/// Polls every future until all are done, so that they are in flight at once: on a real backend
/// their storage calls interleave as concurrent requests would.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    struct JoinAll<F: Future> {
        pending: Vec<Option<Pin<Box<F>>>>,
        done: Vec<Option<F::Output>>,
    }
    // The futures are boxed and the outputs are only moved out, never pinned: nothing here
    // relies on staying put.
    impl<F: Future> Unpin for JoinAll<F> {}
    impl<F: Future> Future for JoinAll<F> {
        type Output = Vec<F::Output>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.get_mut();
            for (slot, out) in this.pending.iter_mut().zip(this.done.iter_mut()) {
                if let Some(f) = slot {
                    if let Poll::Ready(v) = f.as_mut().poll(cx) {
                        *out = Some(v);
                        *slot = None;
                    }
                }
            }
            if this.pending.iter().all(Option::is_none) {
                Poll::Ready(this.done.iter_mut().filter_map(Option::take).collect())
            } else {
                Poll::Pending
            }
        }
    }
    let n = futures.len();
    JoinAll {
        pending: futures.into_iter().map(|f| Some(Box::pin(f))).collect(),
        done: (0..n).map(|_| None).collect(),
    }
    .await
}

/// Runs a future that never waits on I/O (an in-memory backend) to completion.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = Box::pin(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn record(ns: &str, id: &str, expires_at_ms: u64) -> ChallengeRecord {
    ChallengeRecord {
        id: format!("{ns}{id}"),
        client_key: format!("{ns}client"),
        route: Some("main".into()),
        puzzle: Puzzle::Pow {
            salt: "00".repeat(16),
            difficulty: 12,
        },
        created_at_ms: 1_000,
        expires_at_ms,
        reduced: false,
        token_id: None,
        redeemed: false,
    }
}

pub async fn challenges_are_redeemed_once(s: &impl ChallengeStore, ns: &str) -> Result<(), String> {
    let r = record(ns, "once", 61_000);
    tried!(s.insert(&r).await);
    let loaded = tried!(s.load(&r.id).await).ok_or("an inserted challenge loads")?;
    ensure(loaded == r, format!("loads as stored: {loaded:?}"))?;
    ensure(
        tried!(s.redeem_once(&r.id, 2_000).await),
        "the first redemption wins",
    )?;
    ensure(
        !tried!(s.redeem_once(&r.id, 2_001).await),
        "the second loses",
    )?;
    let after = tried!(s.load(&r.id).await).ok_or("still there after redemption")?;
    ensure(after.redeemed, "loads as redeemed")
}

pub async fn concurrent_redemptions_have_one_winner(
    s: &impl ChallengeStore,
    ns: &str,
) -> Result<(), String> {
    let r = record(ns, "race", 61_000);
    tried!(s.insert(&r).await);
    let racers = (0..20).map(|i| s.redeem_once(&r.id, 2_000 + i)).collect();
    let mut wins = 0;
    for won in join_all(racers).await {
        wins += usize::from(tried!(won));
    }
    ensure(
        wins == 1,
        format!("{wins} of 20 concurrent redemptions won"),
    )
}

pub async fn expired_challenges_cannot_be_redeemed_and_are_purged(
    s: &impl ChallengeStore,
    ns: &str,
) -> Result<(), String> {
    let r = record(ns, "late", 61_000);
    tried!(s.insert(&r).await);
    ensure(
        !tried!(s.redeem_once(&r.id, 61_000).await),
        "not at its expiry",
    )?;
    ensure(tried!(s.load(&r.id).await).is_some(), "kept until purged")?;
    ensure(
        !tried!(s.redeem_once(&format!("{ns}unknown"), 2_000).await),
        "unknown ids never win",
    )?;
    ensure(
        tried!(s.load(&format!("{ns}unknown")).await).is_none(),
        "unknown ids load nothing",
    )?;
    tried!(s.purge_expired(61_001).await);
    ensure(
        tried!(s.load(&r.id).await).is_none(),
        "purged after its expiry",
    )
}

fn per_minute(q: u32) -> Policy {
    Policy::new(Window::new("minute", q, 60).into_iter().collect())
        .unwrap_or_else(|| unreachable!())
}

pub async fn counters_hold_the_window(c: &impl Counters, ns: &str) -> Result<(), String> {
    let key = format!("{ns}window");
    let check = [Check {
        counter: "route".into(),
        policy: per_minute(3),
        cost: 1,
    }];
    let mut admitted = 0;
    for i in 0..5 {
        admitted += usize::from(tried!(c.check(&key, &check, 10_000 + i).await).allowed);
    }
    ensure(
        admitted == 3,
        format!("{admitted} of 5 admitted under 3 per minute"),
    )?;
    let denied = tried!(c.check(&key, &check, 30_000).await);
    ensure(
        !denied.allowed && denied.retry_after_s.is_some(),
        "a denial says when",
    )?;
    // The denials charged nothing: a window later, the quota is whole again.
    let later = 10_000 + 61_000;
    let mut again = 0;
    for i in 0..4 {
        again += usize::from(tried!(c.check(&key, &check, later + i).await).allowed);
    }
    ensure(again == 3, format!("{again} admitted a window later"))
}

pub async fn counters_are_all_or_nothing(c: &impl Counters, ns: &str) -> Result<(), String> {
    let key = format!("{ns}all-or-nothing");
    let route = |cost| Check {
        counter: "route".into(),
        policy: per_minute(10),
        cost,
    };
    let limit = Check {
        counter: "limit:heavy".into(),
        policy: per_minute(1),
        cost: 2,
    };
    let d = tried!(c.check(&key, &[route(5), limit], 1_000).await);
    ensure(!d.allowed, "a request past one counter is denied")?;
    ensure(
        d.denied_by == ["limit:heavy"],
        format!("denied by {:?}", d.denied_by),
    )?;
    let d = tried!(c.check(&key, &[route(10)], 1_001).await);
    ensure(d.allowed, "the denied request charged the route nothing")
}

pub async fn clients_are_counted_apart(c: &impl Counters, ns: &str) -> Result<(), String> {
    let check = [Check {
        counter: "route".into(),
        policy: per_minute(1),
        cost: 1,
    }];
    let a = tried!(c.check(&format!("{ns}a"), &check, 1_000).await);
    let b = tried!(c.check(&format!("{ns}b"), &check, 1_000).await);
    ensure(a.allowed && b.allowed, "two clients, two quotas")
}

pub async fn revocations_hold_until_they_expire(
    r: &impl Revocations,
    ns: &str,
) -> Result<(), String> {
    let (a, b) = (format!("{ns}a"), format!("{ns}b"));
    tried!(r.revoke(&a, 50_000, 1_000).await);
    tried!(r.revoke(&b, 20_000, 1_000).await);
    tried!(r.revoke(&b, 10_000, 1_001).await);
    let mine =
        |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|id| id.starts_with(ns)).collect() };
    let mut now = mine(tried!(r.active(15_000).await));
    now.sort();
    ensure(
        now == [a.clone(), b],
        format!("active at 15 s: {now:?} (revoking again never shortens)"),
    )?;
    let later = mine(tried!(r.active(30_000).await));
    ensure(later == [a], format!("active at 30 s: {later:?}"))
}

pub async fn one_payment_buys_one_grant(u: &impl CredentialUsage, ns: &str) -> Result<(), String> {
    let (spent, claimed) = (format!("{ns}spent"), format!("{ns}claimed"));
    let ask = |at_least, want| Ask { at_least, want };
    let first = tried!(u.lease(&spent, ask(3, 12), 80, 100_000).await);
    ensure(
        first.granted == 12 && first.left == 68 && !first.redeemed,
        format!("a first lease is what the isolate wants: {first:?}"),
    )?;
    let second = tried!(u.lease(&spent, ask(1, u32::MAX), 80, 100_000).await);
    ensure(
        second.granted == 34 && second.left == 34,
        format!("never more than half of what is left: {second:?}"),
    )?;
    let third = tried!(u.lease(&spent, ask(1, 16), 80, 100_000).await);
    ensure(
        third.granted == 16 && third.left == 18,
        format!("the next is what the isolate wants: {third:?}"),
    )?;
    let late = tried!(u.lease(&spent, ask(19, 19), 80, 100_000).await);
    ensure(
        late.granted == 0 && late.left == 18,
        format!("a lease larger than what is left gets nothing: {late:?}"),
    )?;
    ensure(
        !tried!(u.claim(&spent, "c", 100_000).await),
        "a spent credential cannot be redeemed",
    )?;
    ensure(
        tried!(u.claim(&claimed, "c1", 100_000).await),
        "an unused payment can be redeemed",
    )?;
    ensure(
        tried!(u.claim(&claimed, "c1", 100_000).await),
        "the same redemption again",
    )?;
    ensure(
        !tried!(u.claim(&claimed, "c2", 100_000).await),
        "never by another challenge",
    )?;
    let after = tried!(u.lease(&claimed, ask(1, 8), 10, 100_000).await);
    ensure(
        after.redeemed && after.granted == 0,
        format!("a redeemed payment buys nothing: {after:?}"),
    )
}

/// Every check, with its name, in a fixed order.
pub async fn run_all(
    challenges: &impl ChallengeStore,
    counters: &impl Counters,
    revocations: &impl Revocations,
    usage: &impl CredentialUsage,
    ns: &str,
) -> Vec<Outcome> {
    vec![
        (
            "challenges_are_redeemed_once",
            challenges_are_redeemed_once(challenges, ns).await,
        ),
        (
            "concurrent_redemptions_have_one_winner",
            concurrent_redemptions_have_one_winner(challenges, ns).await,
        ),
        (
            "expired_challenges_cannot_be_redeemed_and_are_purged",
            expired_challenges_cannot_be_redeemed_and_are_purged(challenges, ns).await,
        ),
        (
            "counters_hold_the_window",
            counters_hold_the_window(counters, ns).await,
        ),
        (
            "counters_are_all_or_nothing",
            counters_are_all_or_nothing(counters, ns).await,
        ),
        (
            "clients_are_counted_apart",
            clients_are_counted_apart(counters, ns).await,
        ),
        (
            "revocations_hold_until_they_expire",
            revocations_hold_until_they_expire(revocations, ns).await,
        ),
        (
            "one_payment_buys_one_grant",
            one_payment_buys_one_grant(usage, ns).await,
        ),
    ]
}
