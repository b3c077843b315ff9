//! What bounds the metrics' size, whatever callers name their tools: labels are cut to
//! `MAX_LABEL_BYTES`; each (counter, route) keeps at most a fixed number of distinct labels
//! (`DELTA_LABELS` in an isolate's delta, `SERIES_LABELS` in the metrics object's minutes and in
//! the totals read from them) and each counter at most `MAX_ROUTES` routes. Whatever does not fit
//! is counted under the label (or route) `other`, so every total still adds up.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

/// Labels and routes are cut to this many bytes, at a character boundary.
pub const MAX_LABEL_BYTES: usize = 64;
/// Throttled identities are cut to this many bytes.
pub const MAX_IDENTITY_BYTES: usize = 128;
/// Distinct labels per counter and route in one isolate's delta, between two flushes.
pub const DELTA_LABELS: usize = 32;
/// Distinct labels per counter and route in one minute of the series, and in totals.
pub const SERIES_LABELS: usize = 256;
/// Distinct routes per counter. Routes come from the configuration; this only makes sure.
pub const MAX_ROUTES: usize = 64;
/// Where everything beyond a cap is counted.
pub const OTHER: &str = "other";

/// `s` as a key part: the key separator `|` replaced, cut to `max` bytes.
pub fn clean(s: &str, max: usize) -> Cow<'_, str> {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    if s.contains('|') {
        Cow::Owned(s.replace('|', "/"))
    } else {
        Cow::Borrowed(s)
    }
}

fn in_group<'a>(
    counters: &'a BTreeMap<String, u64>,
    prefix: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    counters
        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .map(|(k, _)| k.as_str())
        .take_while(move |k| k.starts_with(prefix))
}

/// Folds counts into `counters` under the caps. It remembers how many labels each group holds
/// and how many routes each counter, so a full group is known without counting it again: an
/// isolate's delta takes a count per call, and a merge thousands.
///
/// It is a cache over `counters`: it must see every insertion (all of them go through `add`),
/// and it takes no part in equality or serialization.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    labels: HashMap<String, usize>,
    routes: HashMap<String, usize>,
}

impl PartialEq for Folder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Folder {}

impl Folder {
    pub fn add(
        &mut self,
        counters: &mut BTreeMap<String, u64>,
        name: &str,
        route: &str,
        label: &str,
        n: u64,
        max_labels: usize,
    ) {
        let (route, label) = (clean(route, MAX_LABEL_BYTES), clean(label, MAX_LABEL_BYTES));
        let mut key = format!("{name}|{route}|{label}");
        if let Some(v) = counters.get_mut(&key) {
            *v += n;
            return;
        }
        let route = self.route_or_other(counters, name, &route);
        key.truncate(0);
        key.push_str(name);
        key.push('|');
        key.push_str(route);
        key.push('|');
        let group_len = key.len();
        if !self.labels.contains_key(&key) {
            let size = in_group(counters, &key)
                .filter(|k| &k[group_len..] != OTHER)
                .count();
            self.labels.insert(key.clone(), size);
        }
        let size = self.labels.get_mut(&key).expect("inserted above");
        key.push_str(if label == OTHER || *size < max_labels {
            &label
        } else {
            OTHER
        });
        match counters.get_mut(&key) {
            Some(v) => *v += n,
            None => {
                if &key[group_len..] != OTHER {
                    *size += 1;
                }
                counters.insert(key, n);
            }
        }
    }

    fn route_or_other<'r>(
        &mut self,
        counters: &BTreeMap<String, u64>,
        name: &str,
        route: &'r str,
    ) -> &'r str {
        if route == OTHER
            || in_group(counters, &format!("{name}|{route}|"))
                .next()
                .is_some()
        {
            return route;
        }
        let routes = self.routes.entry(name.to_string()).or_insert_with(|| {
            let prefix = format!("{name}|");
            // A route holds no `|` (`clean`), so each route's keys are one run of the sorted
            // map: the distinct routes are the changes from one key's route to the next's.
            let mut last = None;
            in_group(counters, &prefix)
                .filter_map(|k| k[prefix.len()..].split('|').next())
                .filter(|r| *r != OTHER)
                .filter(|r| last.replace(*r) != Some(*r))
                .count()
        });
        if *routes < MAX_ROUTES {
            *routes += 1;
            route
        } else {
            OTHER
        }
    }
}
