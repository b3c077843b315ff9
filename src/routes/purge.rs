//! The scheduled purge (`[triggers] crons` in wrangler.toml): expired challenges and revocations
//! of tokens that have expired anyway, so D1 does not grow without bound.

use worker::{console_error, console_log, Env};

use gatehouse_core::store::ChallengeStore;

use crate::stores::d1::execute;
use crate::stores::D1Challenges;

const CHALLENGE_GRACE_MS: u64 = 10 * 60 * 1_000;

pub async fn purge(env: &Env, now_ms: u64, audit_retention_days: Option<u32>) {
    // Count the challenges that expired unredeemed before their rows go.
    if let Ok(expired) =
        crate::stores::d1::expired_unredeemed(env, now_ms.saturating_sub(CHALLENGE_GRACE_MS)).await
    {
        crate::objects::metrics_sink::record(|d| {
            for (kind, n) in &expired {
                d.count("challenges_expired", "-", kind, *n);
            }
        });
        crate::objects::metrics_sink::flush_now(env, now_ms).await;
    }
    if let Some(days) = audit_retention_days {
        match crate::stores::audit::purge(env, now_ms, days).await {
            Ok(n) => console_log!("{{\"event\":\"purged\",\"audit\":{n}}}"),
            Err(e) => console_error!(
                "{{\"event\":\"purge_failed\",\"audit\":{:?}}}",
                e.to_string()
            ),
        }
    }
    // Until the grace has passed, a late redemption gets 410 rather than 404, which tells an
    // agent its solver is too slow, not that it is lost.
    let challenges = D1Challenges(env)
        .purge_expired(now_ms.saturating_sub(CHALLENGE_GRACE_MS))
        .await
        .map_err(|u| u.0);
    if let Err(e) = crate::stores::x402_payments::purge(env, now_ms).await {
        console_error!(
            "{{\"event\":\"purge_failed\",\"x402_payments\":{:?}}}",
            e.to_string()
        );
    }
    let revocations = execute(
        env,
        "DELETE FROM revoked_tokens WHERE expires_at < ?1",
        &[(now_ms as f64).into()],
    )
    .await;
    match (challenges, revocations) {
        (Ok(c), Ok(r)) => {
            console_log!("{{\"event\":\"purged\",\"challenges\":{c},\"revocations\":{r}}}")
        }
        (c, r) => console_error!(
            "{{\"event\":\"purge_failed\",\"challenges\":{:?},\"revocations\":{:?}}}",
            c.err().map(|e| e.to_string()),
            r.err().map(|e| e.to_string())
        ),
    }
}
