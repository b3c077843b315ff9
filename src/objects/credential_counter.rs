//! `CredentialCounter`: one Durable Object per access token or L402 credential (named by its
//! `jti`), holding how many units of its grant were spent across isolates, and whether the
//! payment behind an L402 credential was redeemed for a token instead. One payment buys one
//! grant: whichever comes first, spending the credential or redeeming its preimage, wins here
//! (`gatehouse_core::grant::Counter`).
//!
//! Each handler is read → core step → write with only storage operations in between: the input
//! gate holds back every other event for this object meanwhile, so a spend and a claim racing
//! each other cannot both win, and the output gate holds the reply until the write is durable.

use gatehouse_core::client_counter::LINGER_MS;
use gatehouse_core::denial::Denial;
use gatehouse_core::grant::{Counter, Spent};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::objects::call::{alarm_time, call, unavailable, Binding};

const USED_KEY: &str = "used";
const CLAIMED_BY_KEY: &str = "claimed_by";

#[derive(Serialize, Deserialize)]
struct SpendCall {
    cost: u32,
    /// For a first use: the grant the units must fit.
    #[serde(default)]
    grant: Option<u32>,
    /// For a claim: the challenge being redeemed.
    #[serde(default)]
    by: Option<String>,
    /// When the credential expires; the counter is deleted a little after.
    expires_at_ms: u64,
}

#[durable_object]
pub struct CredentialCounter {
    state: State,
}

impl DurableObject for CredentialCounter {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: SpendCall = req.json().await?;
        let mut counter = self.counter().await?;
        let spent = match (req.path().as_str(), call.grant, &call.by) {
            ("/spend", _, _) => counter.spend(call.cost),
            ("/take", Some(grant), _) => counter.take(call.cost, grant),
            ("/claim", _, Some(by)) => {
                let redeemed = counter.claim(by);
                Spent {
                    used: counter.used.unwrap_or(0),
                    redeemed,
                    admitted: false,
                }
            }
            _ => return Response::error("not found", 404),
        };
        self.save(&counter, call.expires_at_ms).await?;
        Response::from_json(&spent)
    }

    async fn alarm(&self) -> Result<Response> {
        // The credential has expired: nothing can spend it any more.
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

impl CredentialCounter {
    async fn counter(&self) -> Result<Counter> {
        let storage = self.state.storage();
        Ok(Counter {
            used: storage.get::<u32>(USED_KEY).await?,
            claimed_by: storage.get::<String>(CLAIMED_BY_KEY).await?,
        })
    }

    async fn save(&self, counter: &Counter, expires_at_ms: u64) -> Result<()> {
        let storage = self.state.storage();
        if let Some(used) = counter.used {
            storage.put(USED_KEY, used).await?;
        }
        if let Some(by) = &counter.claimed_by {
            storage.put(CLAIMED_BY_KEY, by).await?;
        }
        storage
            .set_alarm(alarm_time(expires_at_ms + LINGER_MS))
            .await
    }
}

/// Counts `cost` units of a credential spent in an isolate already (a batched report), and
/// returns the total so far, and whether its payment was redeemed for a token instead.
pub async fn spend_token(
    env: &Env,
    jti: &str,
    cost: u32,
    expires_at_ms: u64,
) -> std::result::Result<Spent, Denial> {
    let body = SpendCall {
        cost,
        grant: None,
        by: None,
        expires_at_ms,
    };
    call(env, Binding::Credentials, jti, "/spend", &body)
        .await
        .map_err(unavailable)
}

/// A credential's first use in this isolate: counts `cost` only if it fits what is left of
/// `grant` across every isolate.
pub async fn take(
    env: &Env,
    jti: &str,
    cost: u32,
    grant: u32,
    expires_at_ms: u64,
) -> std::result::Result<Spent, Denial> {
    let body = SpendCall {
        cost,
        grant: Some(grant),
        by: None,
        expires_at_ms,
    };
    call(env, Binding::Credentials, jti, "/take", &body)
        .await
        .map_err(unavailable)
}

/// Claims the payment behind credential `jti` for the redemption of challenge `by`; `false` if
/// the credential was already spent, or claimed by another challenge.
pub async fn claim_payment(
    env: &Env,
    jti: &str,
    by: &str,
    expires_at_ms: u64,
) -> std::result::Result<bool, Denial> {
    let body = SpendCall {
        cost: 0,
        grant: None,
        by: Some(by.into()),
        expires_at_ms,
    };
    call::<_, Spent>(env, Binding::Credentials, jti, "/claim", &body)
        .await
        .map(|s| s.redeemed)
        .map_err(unavailable)
}
