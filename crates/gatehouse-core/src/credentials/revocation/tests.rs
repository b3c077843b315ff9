use super::*;

const T0: u64 = 1_000_000;

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn loaded(list: &[&str]) -> RevocationCache {
    let mut c = RevocationCache::default();
    let t = c.begin_refresh(T0, false);
    c.complete_refresh(t, ids(list));
    c
}

#[test]
fn a_fresh_isolate_reads_the_store_before_answering() {
    assert_eq!(RevocationCache::default().refresh_needed(T0), Refresh::Now);
}

#[test]
fn the_copy_refreshes_in_the_background_when_soft_and_before_answering_when_hard() {
    let c = loaded(&[]);
    assert_eq!(c.refresh_needed(T0 + SOFT_MS), Refresh::None);
    assert_eq!(c.refresh_needed(T0 + SOFT_MS + 1), Refresh::Background);
    assert_eq!(c.refresh_needed(T0 + HARD_MS), Refresh::Background);
    assert_eq!(c.refresh_needed(T0 + HARD_MS + 1), Refresh::Now);
}

#[test]
fn one_background_refresh_at_a_time() {
    let mut c = loaded(&[]);
    let t = c.begin_refresh(T0 + SOFT_MS + 1, true);
    assert_eq!(c.refresh_needed(T0 + SOFT_MS + 2), Refresh::None);
    assert_eq!(
        c.refresh_needed(T0 + HARD_MS + 1),
        Refresh::Now,
        "hard age still reads"
    );
    c.fail_refresh(t);
    assert_eq!(c.refresh_needed(T0 + SOFT_MS + 2), Refresh::Background);
}

#[test]
fn a_failed_refresh_keeps_the_copy_and_its_age() {
    let mut c = loaded(&["a"]);
    let t = c.begin_refresh(T0 + HARD_MS + 1, false);
    c.fail_refresh(t);
    assert!(c.contains("a"));
    assert_eq!(c.refresh_needed(T0 + HARD_MS + 1), Refresh::Now);
}

#[test]
fn a_refresh_replaces_the_copy_with_the_stores_list() {
    let mut c = loaded(&["a", "b"]);
    let t = c.begin_refresh(T0 + 4_000, true);
    c.complete_refresh(t, ids(&["b", "c"]));
    assert!(!c.contains("a"), "expired from the store");
    assert!(c.contains("b") && c.contains("c"));
    assert_eq!(c.refresh_needed(T0 + 4_000 + SOFT_MS), Refresh::None);
}

#[test]
fn a_revocation_made_while_a_refresh_is_under_way_survives_its_landing() {
    let mut c = loaded(&[]);
    // The refresh reads the store before the revocation is written to it...
    let t = c.begin_refresh(T0 + 4_000, true);
    c.revoke_locally("new");
    // ...and lands after, without it.
    c.complete_refresh(t, ids(&["old"]));
    assert!(c.contains("new"), "the revocation was dropped");
    assert!(c.contains("old"));
}

#[test]
fn a_local_revocation_is_left_to_the_store_once_a_later_refresh_has_read_it() {
    let mut c = loaded(&[]);
    c.revoke_locally("x");
    // The store has it by now; a refresh that began after sees it there, or it has expired.
    let t = c.begin_refresh(T0 + 4_000, true);
    c.complete_refresh(t, ids(&[]));
    assert!(!c.contains("x"), "expired revocations leave the copy");
    assert!(c.local.is_empty());
}

#[test]
fn an_older_refresh_landing_after_a_newer_one_is_ignored() {
    let mut c = loaded(&[]);
    let older = c.begin_refresh(T0 + 4_000, true);
    c.revoke_locally("mid");
    let newer = c.begin_refresh(T0 + HARD_MS + 1, false);
    c.complete_refresh(newer, ids(&["mid", "elsewhere"]));
    c.complete_refresh(older, ids(&[]));
    assert!(c.contains("mid"));
    assert!(c.contains("elsewhere"), "the newer read stands");
    assert_eq!(c.fetched_at_ms, Some(T0 + HARD_MS + 1));
    assert_eq!(
        c.refresh_needed(T0 + HARD_MS + 2),
        Refresh::None,
        "the older landing ended the background refresh"
    );
}

#[test]
fn any_interleaving_of_refreshes_and_revocations_keeps_every_revocation() {
    // Every order in which two refreshes (begin, land) and three revocations can happen, with
    // each refresh reading the store at its beginning (so it holds the revocations made before).
    let events = ["b1", "l1", "b2", "l2", "r1", "r2", "r3"];
    let mut orders: Vec<Vec<&str>> = vec![vec![]];
    for _ in 0..events.len() {
        let mut next = vec![];
        for o in &orders {
            for e in events.iter().filter(|e| !o.contains(e)) {
                let mut longer = o.clone();
                longer.push(e);
                next.push(longer);
            }
        }
        orders = next;
    }
    let valid = |o: &Vec<&str>| {
        let at = |e: &str| o.iter().position(|x| *x == e).unwrap();
        at("b1") < at("l1") && at("b2") < at("l2")
    };
    let mut checked = 0;
    for order in orders.iter().filter(|o| valid(o)) {
        let mut c = loaded(&[]);
        let mut store: Vec<String> = vec![];
        let mut tickets = HashMap::new();
        for e in order {
            match *e {
                "b1" | "b2" => {
                    let t = c.begin_refresh(T0 + 4_000, e == &"b1");
                    tickets.insert(&e[1..], (t, store.clone()));
                }
                "l1" | "l2" => {
                    let (t, read) = tickets[&e[1..]].clone();
                    c.complete_refresh(t, read);
                }
                jti => {
                    store.push(jti.to_string());
                    c.revoke_locally(jti);
                }
            }
        }
        for jti in ["r1", "r2", "r3"] {
            assert!(c.contains(jti), "{jti} lost in {order:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 5_040 / 4);
}

#[test]
fn a_revocation_outlives_what_it_revokes() {
    let lifetimes = Lifetimes {
        token_s: 900,
        l402_s: 3_900,
    };
    let l402 = format!("l402:{}", "ab".repeat(32));
    assert_eq!(
        Revoked::of_jti(&"0f".repeat(16)),
        Some(Revoked::AccessToken)
    );
    assert_eq!(Revoked::of_jti(&l402), Some(Revoked::L402));
    for bad in ["", "l402:", "key:agent", &"0F".repeat(16), &"0f".repeat(17)] {
        assert_eq!(Revoked::of_jti(bad), None, "{bad}");
    }
    assert_eq!(
        kept_until_ms(Revoked::AccessToken, lifetimes, T0),
        T0 + 900_000
    );
    assert_eq!(kept_until_ms(Revoked::L402, lifetimes, T0), T0 + 3_900_000);
    assert!(kept_until_ms(Revoked::ApiKey, lifetimes, T0) > T0 + 5 * 365 * 86_400_000);
}
