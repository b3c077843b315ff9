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
const REDEEMED_KEY: &str = "redeemed";

#[derive(Serialize, Deserialize)]
struct SpendCall {
    cost: u32,
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
        let spent = match req.path().as_str() {
            "/spend" => counter.spend(call.cost),
            "/claim" => {
                let redeemed = counter.claim();
                Spent {
                    used: counter.used.unwrap_or(0),
                    redeemed,
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
            redeemed: storage.get::<bool>(REDEEMED_KEY).await?.unwrap_or(false),
        })
    }

    async fn save(&self, counter: &Counter, expires_at_ms: u64) -> Result<()> {
        let storage = self.state.storage();
        if let Some(used) = counter.used {
            storage.put(USED_KEY, used).await?;
        }
        storage.put(REDEEMED_KEY, counter.redeemed).await?;
        storage
            .set_alarm(alarm_time(expires_at_ms + LINGER_MS))
            .await
    }
}

/// Counts `cost` uses of a credential and returns the total so far, and whether its payment was
/// redeemed for a token instead (then nothing was counted).
pub async fn spend_token(
    env: &Env,
    jti: &str,
    cost: u32,
    expires_at_ms: u64,
) -> std::result::Result<Spent, Denial> {
    let body = SpendCall {
        cost,
        expires_at_ms,
    };
    call(env, Binding::Credentials, jti, "/spend", &body)
        .await
        .map_err(unavailable)
}

/// Claims the payment behind credential `jti` for a redemption; `false` if the credential was
/// already spent or claimed.
pub async fn claim_payment(
    env: &Env,
    jti: &str,
    expires_at_ms: u64,
) -> std::result::Result<bool, Denial> {
    let body = SpendCall {
        cost: 0,
        expires_at_ms,
    };
    call::<_, Spent>(env, Binding::Credentials, jti, "/claim", &body)
        .await
        .map(|s| s.redeemed)
        .map_err(unavailable)
}
