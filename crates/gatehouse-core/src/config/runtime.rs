//! The runtime policy (`crate::policy::runtime`) laid over this configuration: the configured
//! difficulty bounds are its base, and an L402 offer needs a configured Lightning backend.

use super::Config;
use crate::difficulty::PowSettings;
use crate::policy::runtime::RuntimePolicy;

impl RuntimePolicy {
    /// The difficulty bounds in force: this policy's overrides over the configured ones.
    pub fn pow(&self, cfg: &Config) -> PowSettings {
        self.pow_over(cfg.pow)
    }

    /// Applies `update` over `self`, or says why it cannot be under `cfg`.
    pub fn updated(&self, update: &RuntimePolicy, cfg: &Config) -> Result<RuntimePolicy, String> {
        self.updated_over(update, cfg.pow, cfg.l402.is_some())
    }
}
