//! Policy that is safe to change while the gateway runs: the proof-of-work difficulty bounds and
//! the challenge offers. Set through the admin API, stored in D1, and laid over the configuration
//! by every isolate within seconds. An update is validated against the configuration: bounds in
//! order and within 1-32 bits, and no L402 offer unless a Lightning backend is configured.
//!
//! This module takes only what it lays itself over (the configured bounds, whether L402 is
//! available); `config::runtime` hands those over from a `Config`.

use serde::{Deserialize, Serialize};

use crate::rails::challenge::OfferKind;
use crate::rails::difficulty::PowSettings;
use crate::rails::table::RAILS;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow_min_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow_base_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow_max_bits: Option<u8>,
    /// `["pow"]`, `["l402", "pow"]`, …, replacing every route's offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<Vec<String>>,
}

impl RuntimePolicy {
    /// The difficulty bounds: this policy's overrides over the configured `base`.
    pub fn pow_over(&self, base: PowSettings) -> PowSettings {
        PowSettings {
            min_bits: self.pow_min_bits.unwrap_or(base.min_bits),
            base_bits: self.pow_base_bits.unwrap_or(base.base_bits),
            max_bits: self.pow_max_bits.unwrap_or(base.max_bits),
        }
    }

    pub fn offers(&self) -> Option<Vec<OfferKind>> {
        self.offers
            .as_ref()
            .map(|list| list.iter().filter_map(|o| OfferKind::parse(o)).collect())
    }

    /// Applies `update` over `self`, laid over the configured bounds `base`, or says why it
    /// cannot be. `available`: whether an offer of that kind is configured (a Lightning backend
    /// for L402, a facilitator for x402).
    pub fn updated_over(
        &self,
        update: &RuntimePolicy,
        base: PowSettings,
        available: &dyn Fn(OfferKind) -> bool,
    ) -> Result<RuntimePolicy, String> {
        let next = RuntimePolicy {
            pow_min_bits: update.pow_min_bits.or(self.pow_min_bits),
            pow_base_bits: update.pow_base_bits.or(self.pow_base_bits),
            pow_max_bits: update.pow_max_bits.or(self.pow_max_bits),
            offers: update.offers.clone().or_else(|| self.offers.clone()),
        };
        let p = next.pow_over(base);
        if !(1 <= p.min_bits
            && p.min_bits <= p.base_bits
            && p.base_bits <= p.max_bits
            && p.max_bits <= 32)
        {
            return Err(format!(
                "difficulty must satisfy 1 <= min <= base <= max <= 32 (got {}, {}, {})",
                p.min_bits, p.base_bits, p.max_bits
            ));
        }
        if let Some(list) = &next.offers {
            if list.is_empty() {
                return Err("offers cannot be empty".into());
            }
            for o in list {
                match OfferKind::parse(o) {
                    None => {
                        let names: Vec<&str> = RAILS.iter().map(|r| r.name).collect();
                        return Err(format!("offer {o:?} is not one of {}", names.join(", ")));
                    }
                    Some(kind) if !available(kind) => {
                        let rail = kind.rail();
                        return Err(format!("{} needs {}", rail.name, rail.needs.describe()));
                    }
                    _ => {}
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cfg() -> Config {
        let vars = [
            ("ORIGIN_URL", "https://mcp.example.com"),
            ("TOKEN_SIGNING_KEYS", "k1:0123456789abcdef0123456789abcdef"),
        ];
        Config::from_vars(&|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    fn update(json: &str) -> RuntimePolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_update_lays_over_the_configuration() {
        let c = cfg();
        let next = RuntimePolicy::default()
            .updated(&update(r#"{"pow_base_bits": 15}"#), &c)
            .unwrap();
        assert_eq!(
            next.pow(&c),
            PowSettings {
                min_bits: 12,
                base_bits: 15,
                max_bits: 16
            }
        );
        let again = next
            .updated(&update(r#"{"pow_max_bits": 20, "pow_base_bits": 18}"#), &c)
            .unwrap();
        assert_eq!(again.pow(&c).base_bits, 18);
    }

    #[test]
    fn out_of_order_bounds_and_unusable_offers_are_refused() {
        let c = cfg();
        assert!(RuntimePolicy::default()
            .updated(&update(r#"{"pow_base_bits": 20}"#), &c)
            .unwrap_err()
            .contains("min <= base <= max"));
        assert!(RuntimePolicy::default()
            .updated(&update(r#"{"offers": ["l402"]}"#), &c)
            .unwrap_err()
            .contains("Lightning"));
        assert!(RuntimePolicy::default()
            .updated(&update(r#"{"offers": []}"#), &c)
            .is_err());
        assert!(RuntimePolicy::default()
            .updated(&update(r#"{"offers": ["bitcoin"]}"#), &c)
            .is_err());
        assert!(RuntimePolicy::default()
            .updated(&update(r#"{"offers": ["x402"]}"#), &c)
            .unwrap_err()
            .contains("facilitator"));
        assert_eq!(
            RuntimePolicy::default()
                .updated(&update(r#"{"offers": ["pow"]}"#), &c)
                .unwrap()
                .offers(),
            Some(vec![OfferKind::Pow])
        );
    }
}
