//! Admission by credential (docs/PROTOCOL.md §1, §2): the gateway's own access token
//! (`x-access-token`, or handed back in-band) or a paid L402 credential. Either pays for a request
//! with units of its grant, what the request's calls cost, spent from this isolate's lease of the
//! grant with no I/O (`gatehouse_core::credentials::grant`). The next lease is asked for in the background
//! once half of the current one is gone.
//!
//! A credential's first use in an isolate waits for its first lease. That is also where an L402
//! credential meets a redemption of the same payment, so that only one of the two wins.

use gatehouse_core::config::Config;
use std::cell::RefCell;

use gatehouse_core::credentials::token::{self, AccessClaims, TokenRejection};
use gatehouse_core::credentials::verified::Verified;
use gatehouse_core::metering::ratelimit::token_headers;
use gatehouse_core::rails::l402::credential::{parse_authorization, verify};
use gatehouse_core::wire::bytes::to_hex;
use gatehouse_core::wire::denial::Denial;
use worker::{Context, Env};

use crate::objects::credential_counter;
use crate::routes::gate::facts::RequestFacts;
use crate::routes::gate::usage;
use crate::stores::revocation;

pub type Headers = Vec<(&'static str, String)>;

/// Tokens presented to this isolate whose signature checked out (`credentials::verified`).
const REMEMBERED: usize = 4_096;

thread_local! {
    static TOKENS: RefCell<Verified<AccessClaims>> = RefCell::new(Verified::new(REMEMBERED));
}

/// What admitted a request, for the response headers and the audit trail.
pub struct Admitted {
    pub headers: Headers,
    pub remaining: u32,
    pub by: &'static str,
}

/// A credential that checked out, with the grant it pays from.
pub struct Credential {
    jti: String,
    units: u32,
    expires_at_s: u64,
    /// Until when the credential as minted is valid, however it was presented: its counter is
    /// kept that long (`credential_counter`), so no shortened presentation can make it forget a
    /// spent grant or a redeemed payment while the full credential still verifies.
    keep_until_s: u64,
    lifetime_s: u64,
    by: &'static str,
}

impl Credential {
    /// Whether `cost` units could be admitted: they fit this isolate's lease, or the counter may
    /// still have them.
    pub fn fits(&self, cost: u32) -> bool {
        usage::fits(&self.jti, cost)
    }

    /// Takes `cost` units of the grant; `None` when they do not fit. Spends from this isolate's
    /// lease with no I/O; waits for the counter only when the lease is missing or too small.
    pub async fn spend(
        &self,
        env: &Env,
        ctx: &Context,
        cost: u32,
        now_ms: u64,
    ) -> Result<Option<Admitted>, Denial> {
        if let Some((ask, _waiting)) = usage::needs_counter(&self.jti, cost) {
            let expires_at_ms = self.keep_until_s * 1_000;
            let leased =
                credential_counter::lease(env, &self.jti, ask, self.units, expires_at_ms).await?;
            if leased.redeemed {
                return Err(Denial::InvalidToken(TokenRejection::Revoked));
            }
            usage::add(&self.jti, leased, expires_at_ms, now_ms);
        }
        Ok(self.spend_leased(env, ctx, cost, now_ms))
    }

    /// Whether this isolate's lease must be filled from the counter before `cost` units could
    /// be taken here.
    pub fn lease_short(&self, cost: u32) -> bool {
        usage::lease_short(&self.jti, cost)
    }

    /// Takes `cost` units from this isolate's lease, with no wait; `None` when they do not fit.
    /// Once half of the lease is gone, the next one is asked for in the background.
    pub fn spend_leased(
        &self,
        env: &Env,
        ctx: &Context,
        cost: u32,
        now_ms: u64,
    ) -> Option<Admitted> {
        let expires_at_ms = self.keep_until_s * 1_000;
        let taken = usage::take(&self.jti, cost, expires_at_ms, now_ms)?;
        if taken.renew {
            let (env, jti, units) = (env.clone(), self.jti.clone(), self.units);
            let ask = usage::renewal(&jti);
            ctx.wait_until(async move {
                let leased = credential_counter::lease(&env, &jti, ask, units, expires_at_ms)
                    .await
                    .ok()
                    .filter(|l| !l.redeemed);
                // The clock as the renewal lands, for the pause after a failure.
                let landed_ms = worker::Date::now().as_millis();
                usage::renewed(&jti, leased, expires_at_ms, landed_ms);
            });
        }
        Some(self.admitted(taken.remaining, now_ms))
    }

    fn admitted(&self, remaining: u32, now_ms: u64) -> Admitted {
        let left = self.expires_at_s.saturating_sub(now_ms / 1_000);
        let used = self.units.saturating_sub(remaining);
        Admitted {
            headers: token_headers(self.units, used, self.lifetime_s, left).to_vec(),
            remaining,
            by: self.by,
        }
    }
}

/// The access token's credential if it is valid for this caller, with its claims (what it
/// permits), before its revocation is looked up.
pub fn token_credential(
    cfg: &Config,
    facts: &RequestFacts,
    token: &str,
    now_ms: u64,
) -> Result<(Credential, AccessClaims), Denial> {
    let claims = TOKENS
        .with(|memo| {
            token::check_remembered(
                &cfg.token,
                &mut memo.borrow_mut(),
                token,
                &facts.audience,
                &facts.binding_hash(cfg),
                now_ms / 1_000,
            )
        })
        .map_err(Denial::InvalidToken)?;
    let credential = Credential {
        jti: claims.jti.clone(),
        units: claims.grant,
        expires_at_s: claims.exp,
        keep_until_s: claims.exp,
        lifetime_s: claims.exp - claims.iat,
        by: "token",
    };
    Ok((credential, claims))
}

/// A paid L402 credential, before its revocation is looked up; `None` for an `Authorization`
/// in any other scheme, which is not ours to judge (it is stripped before the origin all the
/// same).
pub fn l402_credential(
    cfg: &Config,
    authorization: &str,
    now_ms: u64,
) -> Result<Option<Credential>, Denial> {
    let (Some(l402), Some(parsed)) = (&cfg.l402, parse_authorization(authorization)) else {
        return Ok(None);
    };
    let verified = parsed
        .and_then(|cred| verify(&l402.settings, &cred, now_ms / 1_000))
        .map_err(Denial::InvalidL402)?;
    Ok(Some(Credential {
        jti: l402_jti(&verified.token_id),
        units: cfg.token.grant,
        expires_at_s: verified.valid_until_s,
        keep_until_s: verified.minted_until_s.max(verified.valid_until_s),
        lifetime_s: verified.valid_until_s.saturating_sub(now_ms / 1_000),
        by: "l402",
    }))
}

/// Refuses a revoked credential.
pub async fn unless_revoked(
    env: &Env,
    ctx: &Context,
    jti: &str,
    now_ms: u64,
) -> Result<(), Denial> {
    match revocation::is_revoked(env, ctx, jti, now_ms).await? {
        true => Err(Denial::InvalidToken(TokenRejection::Revoked)),
        false => Ok(()),
    }
}

impl Credential {
    /// The revocation id it is looked up under.
    pub fn jti(&self) -> &str {
        &self.jti
    }
}

/// The revocation and counter id of the L402 credential with this token id.
pub fn l402_jti(token_id: &[u8]) -> String {
    format!("l402:{}", to_hex(token_id))
}
