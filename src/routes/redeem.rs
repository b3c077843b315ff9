//! `POST /api/verify-challenge` (docs/PROTOCOL.md §1): judge a solution, spend the challenge exactly
//! once, and mint the access token.

use gatehouse_core::config::Config;
use gatehouse_core::credentials::token::{issue, Issue, Via};
use gatehouse_core::metering::quota::Check;
use gatehouse_core::rails::challenge::{
    assess, parse_redemption, Puzzle, RedeemError, MAX_REDEEM_BODY,
};
use gatehouse_core::rails::controller::FAST_SOLVES;
use gatehouse_core::rails::difficulty::is_fast;
use gatehouse_core::store::ChallengeStore;
use gatehouse_core::wire::bytes::to_hex;
use gatehouse_core::wire::denial::{Answer, Denial, Dependency};
use gatehouse_core::wire::headers::ACCESS_TOKEN_HEADER;
use gatehouse_core::wire::json_object::object;
use worker::{console_log, Context, Date, Env, Request, Response};

use crate::objects::client_counter;
use crate::objects::credential_counter;
use crate::objects::metrics_sink;
use crate::platform::body;
use crate::platform::random;
use crate::platform::respond;
use crate::routes::gate;
use crate::routes::gate::caller::identify;
use crate::routes::gate::credential::l402_jti;
use crate::routes::gate::facts::RequestFacts;
use crate::stores::{self, D1Challenges};

pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    now_ms: u64,
) -> Result<Response, Denial> {
    let mut facts = RequestFacts::read(&req, cfg);
    // The same identity as at the gate: a token bought by an API key or OAuth identity is bound
    // to it, and only the client a challenge was issued to may redeem it.
    let caller = identify(&req, env, ctx, cfg, &mut facts, now_ms).await?;
    meter(env, cfg, &facts.client_key, now_ms).await?;
    if let Some(address) = &caller.address {
        // An unverified key is free to change: the address is metered too.
        meter(env, cfg, &address.key, now_ms).await?;
    }
    let raw = body::read_capped(&mut req, MAX_REDEEM_BODY).await?;
    let redemption = parse_redemption(&raw).map_err(Denial::Redeem)?;
    let id = &redemption.challenge_id;
    let challenges = D1Challenges(env);
    let unavailable = stores::denial(Dependency::ChallengeStore);
    let loaded = challenges
        .load(id)
        .await
        .map_err(&unavailable)?
        // A challenge issued to someone else is as unknown to this client as a made-up id.
        .filter(|l| l.client_key == facts.client_key)
        .ok_or(Denial::Redeem(RedeemError::NotFound))?;
    let (stored, created_at_ms) = (&loaded.stored(), loaded.created_at_ms);
    let kind = match stored.puzzle {
        Puzzle::Pow { .. } => "pow",
        Puzzle::L402 { .. } => "l402",
    };
    if let Err(e) = assess(stored, &redemption.proof, now_ms) {
        if e == RedeemError::InvalidSolution {
            metrics_sink::record(|d| d.count("challenges_failed", "-", kind, 1));
        }
        return Err(Denial::Redeem(e));
    }
    if let Some(token_id) = &loaded.token_id {
        // One payment, one grant: the preimage also makes the macaroon a credential. Whichever
        // is used first wins at the credential's counter; the other is refused. The claim is for
        // this challenge, so a redemption retried after a failure below still gets it.
        let valid_until_ms = stored.expires_at_ms + u64::from(cfg.token.ttl_s) * 1_000;
        if !credential_counter::claim_payment(env, &l402_jti(token_id), id, valid_until_ms).await? {
            return Err(Denial::Redeem(RedeemError::AlreadyRedeemed));
        }
    }
    if !challenges
        .redeem_once(id, now_ms)
        .await
        .map_err(&unavailable)?
    {
        // Another redemption won the race, or the TTL ran out between the read and the update.
        let lost = if now_ms >= stored.expires_at_ms {
            RedeemError::Expired
        } else {
            RedeemError::AlreadyRedeemed
        };
        return Err(Denial::Redeem(lost));
    }
    // The challenge is spent: from here on nothing may fail the redemption. Forgetting it as the
    // client's outstanding offer is best effort (offered again, it would only be refused 409).
    // This isolate's memory of the client's denial goes too, so it is not offered the challenge
    // again from there.
    gate::memo::forget(&facts.client_key, now_ms);
    let (forget_env, client_key, forget_id) = (env.clone(), facts.client_key.clone(), id.clone());
    let route = loaded.route.clone();
    ctx.wait_until(async move {
        let route = route.as_deref();
        let _ = client_counter::forget_offer(&forget_env, &client_key, route, &forget_id).await;
    });
    // The controller counts only fast solves (`difficulty::is_fast`): a solve time is the
    // client's to choose, so a slow one must move nothing (docs/threat-model.md, "The difficulty controller").
    let solve_ms = now_ms.saturating_sub(created_at_ms);
    let fast = is_fast(solve_ms, cfg.adaptive.target_solve_ms);
    metrics_sink::record(|d| {
        d.count("challenges_solved", "-", kind, 1);
        if fast {
            d.count(FAST_SOLVES, "-", kind, 1);
        }
        // From the 402 to a valid redemption: how long agents take to solve or pay.
        d.observe("solve_ms", solve_ms);
        // A second clock read, for the redemption-latency figure only.
        d.observe(
            "redemption_ms",
            Date::now().as_millis().saturating_sub(now_ms),
        );
    });
    let jti = to_hex(&random::bytes::<16>().ok_or(Denial::Internal)?);
    let (token, claims) = issue(
        &cfg.token,
        Issue {
            audience: &facts.audience,
            subject: &facts.client_key,
            binding_hash: facts.binding_hash(cfg),
            jti,
            via: match stored.puzzle {
                Puzzle::Pow { .. } => Via::Pow,
                Puzzle::L402 { .. } => Via::L402,
            },
            now_s: now_ms / 1_000,
            route: loaded.route.as_deref(),
            reduced: if loaded.reduced {
                cfg.budget_fallback.as_ref()
            } else {
                None
            },
        },
    );
    console_log!(
        "{}",
        object([
            ("event", "challenge_redeemed".into()),
            ("challenge_id", id.as_str().into()),
            ("jti", claims.jti.as_str().into()),
            ("sub", claims.sub.as_str().into()),
        ])
    );
    respond::json(
        200,
        &object([
            ("access_token", token.into()),
            ("token_type", "Gatehouse".into()),
            ("header", ACCESS_TOKEN_HEADER.into()),
            ("expires_in", (claims.exp - claims.iat).into()),
            ("grant", claims.grant.into()),
        ]),
    )
    .map_err(|_| Denial::Internal)
}

/// Redemption attempts are metered per client: each one costs the gateway a D1 read and hashing,
/// and an unmetered endpoint would be a free oracle for guessing.
async fn meter(env: &Env, cfg: &Config, key: &str, now_ms: u64) -> Result<(), Denial> {
    let check = Check {
        counter: "redeem".into(),
        policy: cfg.limits.redemptions.clone(),
        cost: 1,
    };
    let reply = client_counter::check_quota(env, key, vec![check], now_ms).await?;
    if reply.decision.allowed {
        return Ok(());
    }
    Err(Denial::QuotaExhausted {
        policy: cfg.limits.redemptions.clone(),
        decision: reply.decision,
        offers: Vec::new(),
        verify_url: String::new(),
        answer: Answer::TooManyRequests,
    })
}
