//! `CredentialCounter`: one Durable Object per access token or L402 credential (named by its
//! `jti`), holding how many units of its grant were leased to isolates, and whether the
//! payment behind an L402 credential was redeemed for a token instead. One payment buys one
//! grant: whichever comes first, leasing the credential or redeeming its preimage, wins here
//! (`gatehouse_core::credentials::grant::Counter`).
//!
//! Each handler is read → core step → write with only storage operations in between: the input
//! gate holds back every other event for this object meanwhile, so a spend and a claim racing
//! each other cannot both win, and the output gate holds the reply until the write is durable.

use gatehouse_core::credentials::grant::{Ask, Counter, Leased};
use gatehouse_core::metering::client_counter::LINGER_MS;
use gatehouse_core::wire::denial::Denial;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::objects::call::{alarm_time, call, unavailable, Binding};

const LEASED_KEY: &str = "used";

fn want_all() -> u32 {
    u32::MAX
}
const CLAIMED_BY_KEY: &str = "claimed_by";

#[derive(Serialize, Deserialize)]
struct CounterCall {
    /// For a lease: the units the isolate needs now, what its recent use says the lease should
    /// hold, and the grant they come out of. An isolate that sends no `want` is sized as if it
    /// wanted all it may (half of what is left, as before leases were sized by demand).
    #[serde(default)]
    at_least: u32,
    #[serde(default = "want_all")]
    want: u32,
    #[serde(default)]
    grant: u32,
    /// For a claim: the challenge being redeemed.
    #[serde(default)]
    by: Option<String>,
    /// When the credential expires; the counter is deleted a little after.
    expires_at_ms: u64,
}

// Only the handlers it has (fetch, alarm): no WebSocket or connect bindings in the Wasm.
#[durable_object(alarm)]
pub struct CredentialCounter {
    state: State,
}

impl DurableObject for CredentialCounter {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: CounterCall = req.json().await?;
        let before = self.counter().await?;
        let mut counter = before.clone();
        let leased = match (req.path().as_str(), &call.by) {
            ("/lease", _) => counter.lease(
                Ask {
                    at_least: call.at_least,
                    want: call.want,
                },
                call.grant,
            ),
            ("/claim", Some(by)) => Leased {
                granted: 0,
                left: 0,
                redeemed: counter.claim(by),
            },
            _ => return Response::error("not found", 404),
        };
        self.save(&before, &counter, call.expires_at_ms).await?;
        Response::from_json(&leased)
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
            leased: storage.get::<u32>(LEASED_KEY).await?,
            claimed_by: storage.get::<String>(CLAIMED_BY_KEY).await?,
        })
    }

    /// Writes what changed, and keeps the counter until the latest expiry it was ever told of.
    /// The expiry comes from the presented credential, which its holder can shorten (an L402
    /// caveat it adds): were the alarm moved earlier, the counter, and with it a redemption's
    /// claim and the units leased, would be forgotten while the full credential still verifies.
    async fn save(&self, before: &Counter, counter: &Counter, expires_at_ms: u64) -> Result<()> {
        let storage = self.state.storage();
        if counter.leased != before.leased {
            if let Some(leased) = counter.leased {
                storage.put(LEASED_KEY, leased).await?;
            }
        }
        if counter.claimed_by != before.claimed_by {
            if let Some(by) = &counter.claimed_by {
                storage.put(CLAIMED_BY_KEY, by).await?;
            }
        }
        let keep_until = expires_at_ms + LINGER_MS;
        let scheduled = storage.get_alarm().await?.unwrap_or(0);
        if (keep_until as i64) > scheduled {
            storage.set_alarm(alarm_time(keep_until)).await?;
        }
        Ok(())
    }
}

/// Leases units of credential `jti`'s grant to this isolate, at least `ask.at_least` of them if
/// that many are left (`gatehouse_core::credentials::grant::Counter::lease`).
pub async fn lease(
    env: &Env,
    jti: &str,
    ask: Ask,
    grant: u32,
    expires_at_ms: u64,
) -> std::result::Result<Leased, Denial> {
    let body = CounterCall {
        at_least: ask.at_least,
        want: ask.want,
        grant,
        by: None,
        expires_at_ms,
    };
    call(env, Binding::Credentials, jti, "/lease", &body)
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
    let body = CounterCall {
        at_least: 0,
        want: 0,
        grant: 0,
        by: Some(by.into()),
        expires_at_ms,
    };
    call::<_, Leased>(env, Binding::Credentials, jti, "/claim", &body)
        .await
        .map(|s| s.redeemed)
        .map_err(unavailable)
}
