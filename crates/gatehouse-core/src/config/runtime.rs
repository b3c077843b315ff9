//! The runtime policy (`crate::policy::runtime`) laid over this configuration: the configured
//! difficulty bounds are its base, an L402 offer needs a configured Lightning backend
//! and an x402 offer a configured facilitator.

use super::{Config, OfferKind};
use crate::policy::runtime::RuntimePolicy;
use crate::rails::difficulty::PowSettings;
use crate::rails::table::Needs;

impl RuntimePolicy {
    /// The difficulty bounds in force: this policy's overrides over the configured ones.
    pub fn pow(&self, cfg: &Config) -> PowSettings {
        self.pow_over(cfg.pow)
    }

    /// Applies `update` over `self`, or says why it cannot be under `cfg`.
    pub fn updated(&self, update: &RuntimePolicy, cfg: &Config) -> Result<RuntimePolicy, String> {
        let available = |kind: OfferKind| match kind.rail().needs {
            Needs::Nothing => true,
            Needs::Lightning => cfg.l402.is_some(),
            Needs::EvmToken => cfg.x402.is_some(),
        };
        self.updated_over(update, cfg.pow, &available)
    }
}
