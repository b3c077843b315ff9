//! Admission by credential (docs/PROTOCOL.md §1, §2): the gateway's own access token
//! (`x-access-token`, or handed back in-band) or a paid L402 credential. Either pays for a request
//! with units of its grant, what the request's calls cost (`gatehouse_core::grant`), spent in the
//! isolate with no I/O and reported to the credential's counter in the background.
//!
//! The one exception is an L402 credential's first use in an isolate: it waits for its counter,
//! because the same payment can also be redeemed for a token at the redemption endpoint, and the
//! counter is where the two meet so that only one of them wins.

use gatehouse_core::bytes::to_hex;
use gatehouse_core::config::Config;
use gatehouse_core::denial::Denial;
use gatehouse_core::l402::credential::{parse_authorization, verify};
use gatehouse_core::ratelimit::token_headers;
use gatehouse_core::token::{self, AccessClaims, TokenRejection};
use worker::{Context, Env};

use crate::objects::credential_counter;
use crate::routes::gate::facts::RequestFacts;
use crate::routes::gate::usage;
use crate::stores::revocation;

pub type Headers = Vec<(&'static str, String)>;

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
    lifetime_s: u64,
    by: &'static str,
}

impl Credential {
    /// Whether `cost` units would fit what this isolate knows is left of the grant.
    pub fn fits(&self, cost: u32) -> bool {
        usage::fits(&self.jti, cost, self.units)
    }

    /// Takes `cost` units of the grant; `None` when they do not fit. Spends locally with no I/O,
    /// reporting to the credential's counter in the background; except on the credential's
    /// first use in this isolate, which waits for the counter, so that an isolate never starts
    /// from a full grant that others have spent, nor from a payment redeemed for a token.
    pub async fn spend(
        &self,
        env: &Env,
        ctx: &Context,
        cost: u32,
        now_ms: u64,
    ) -> Result<Option<Admitted>, Denial> {
        let expires_at_ms = self.expires_at_s * 1_000;
        if usage::unseen(&self.jti) {
            let spent =
                credential_counter::take(env, &self.jti, cost, self.units, expires_at_ms).await?;
            if spent.redeemed {
                return Err(Denial::InvalidToken(TokenRejection::Revoked));
            }
            usage::seed(&self.jti, spent.used, expires_at_ms, now_ms);
            return Ok(spent.admitted.then(|| self.admitted(spent.used, now_ms)));
        }
        let Some(taken) = usage::try_take(&self.jti, cost, self.units, expires_at_ms, now_ms)
        else {
            return Ok(None);
        };
        if let Some(count) = taken.report {
            let (env, jti) = (env.clone(), self.jti.clone());
            ctx.wait_until(async move {
                if let Ok(spent) =
                    credential_counter::spend_token(&env, &jti, count, expires_at_ms).await
                {
                    usage::observe_total(&jti, spent.used);
                }
            });
        }
        Ok(Some(self.admitted(taken.used, now_ms)))
    }

    fn admitted(&self, used: u32, now_ms: u64) -> Admitted {
        let left = self.expires_at_s.saturating_sub(now_ms / 1_000);
        Admitted {
            headers: token_headers(self.units, used, self.lifetime_s, left).to_vec(),
            remaining: self.units.saturating_sub(used),
            by: self.by,
        }
    }
}

/// The access token's credential if it is valid for this caller, with its claims (what it
/// permits).
pub async fn check_token(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    facts: &RequestFacts,
    token: &str,
    now_ms: u64,
) -> Result<(Credential, AccessClaims), Denial> {
    let claims = token::check(
        &cfg.token,
        token,
        &facts.audience,
        &facts.binding_hash(cfg),
        now_ms / 1_000,
    )
    .map_err(Denial::InvalidToken)?;
    if revocation::is_revoked(env, ctx, &claims.jti, now_ms).await? {
        return Err(Denial::InvalidToken(TokenRejection::Revoked));
    }
    let credential = Credential {
        jti: claims.jti.clone(),
        units: claims.grant,
        expires_at_s: claims.exp,
        lifetime_s: claims.exp - claims.iat,
        by: "token",
    };
    Ok((credential, claims))
}

/// The same for a paid L402 credential; `None` for an `Authorization` in any other scheme, which
/// is not ours to judge (it is stripped before the origin all the same).
pub async fn check_l402(
    env: &Env,
    ctx: &Context,
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
    let jti = l402_jti(&verified.token_id);
    if revocation::is_revoked(env, ctx, &jti, now_ms).await? {
        return Err(Denial::InvalidToken(TokenRejection::Revoked));
    }
    Ok(Some(Credential {
        jti,
        units: cfg.token.grant,
        expires_at_s: verified.valid_until_s,
        lifetime_s: verified.valid_until_s.saturating_sub(now_ms / 1_000),
        by: "l402",
    }))
}

/// The revocation and counter id of the L402 credential with this token id.
pub fn l402_jti(token_id: &[u8]) -> String {
    format!("l402:{}", to_hex(token_id))
}
