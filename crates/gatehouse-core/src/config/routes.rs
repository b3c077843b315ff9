//! The routes: from the `POLICY` document when it is set, otherwise one route for every path,
//! built from `ORIGIN_URL`, `ORIGIN_AUTH_*`, the quota variables, `IN_BAND_CHALLENGES` and
//! `LEGACY_USER_AGENTS`/`LEGACY_GRACE_SECONDS`.

use super::reader::Reader;
use super::{read_origin, read_origin_credential};
use crate::metering::quota::Policy;
use crate::policy::parse::{parse_policy, Defaults};
use crate::policy::{Legacy, Pattern, Route};
use crate::rails::challenge::OfferKind;

pub fn read_routes(
    r: &mut Reader,
    get: &dyn Fn(&str) -> Option<String>,
    local_dev: bool,
    quota: &Policy,
    offers: &[OfferKind],
) -> Option<Vec<Route>> {
    let legacy = Legacy {
        user_agents: r
            .text("LEGACY_USER_AGENTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Pattern::new)
            .collect(),
        grace_s: r.number("LEGACY_GRACE_SECONDS", 0, 0..=86_400),
    };
    let defaults = Defaults {
        quota: quota.clone(),
        offers: offers.to_vec(),
        in_band: r.flag("IN_BAND_CHALLENGES", true),
        legacy,
    };
    if let Some(doc) = r.text("POLICY") {
        return match parse_policy(&doc, &defaults, get, local_dev) {
            Ok(routes) => Some(routes),
            Err(problems) => {
                problems.into_iter().for_each(|p| r.problem(p));
                None
            }
        };
    }
    let origin = read_origin(r, local_dev)?;
    Some(vec![Route {
        name: "default".into(),
        prefix: "/".into(),
        host: None,
        origin,
        credential: read_origin_credential(r),
        quota: defaults.quota,
        offers: defaults.offers,
        tool_scopes: None,
        costs: Vec::new(),
        limits: Vec::new(),
        in_band: defaults.in_band,
        legacy: defaults.legacy,
    }])
}
