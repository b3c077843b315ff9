//! `GateCounter`, the Durable Object that keeps counters under one name, and the client calls the
//! Worker makes to it. Two kinds of name:
//! - `quota:<client key>` holds the client's sliding-window counters (one per route and per
//!   matching limit, `gatehouse_core::quota::decide_all`) and when the client was first seen;
//! - `token:<jti>` holds how many units of a credential's grant have been used, and whether the
//!   payment behind an L402 credential was redeemed for a token instead (one payment, one grant:
//!   whichever comes first, spending the credential or redeeming its preimage, wins here).
//!
//! Each handler is read → decide → write with only storage operations in between. The runtime's
//! input gate holds back every other event for this object while a storage operation is in
//! flight, and the output gate holds the reply until the write is durable, so no two requests to
//! one counter can interleave and no reply reports a count that could be lost.

use std::cell::RefCell;
use std::collections::BTreeMap;

use gatehouse_core::challenge::Offer;
use gatehouse_core::client_counter::{step, ClientState, LINGER_MS};
use gatehouse_core::denial::{Denial, Dependency};
use gatehouse_core::grant::{Counter, Spent};
use gatehouse_core::metrics::Series;
use gatehouse_core::outstanding::Outstanding;
use gatehouse_core::quota::{Check, Decision, QuotaState};

use crate::counter_call::call;
use crate::metrics_sink::{AddCall, ReadCall};
use gatehouse_core::controller::Controller;
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, wasm_bindgen::JsValue, DurableObject, Env, Request, Response, Result,
    ScheduledTime, State,
};

const COUNTERS_KEY: &str = "counters";
const FIRST_SEEN_KEY: &str = "first_seen";
const USED_KEY: &str = "used";
const SERIES_KEY: &str = "series";
const CONTROLLER_KEY: &str = "controller";
const OUTSTANDING_KEY: &str = "outstanding";
const REDEEMED_KEY: &str = "redeemed";
#[derive(Serialize, Deserialize)]
struct QuotaCall {
    checks: Vec<Check>,
    now_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub struct QuotaReply {
    pub decision: Decision,
    /// When this client was first counted, for the legacy grace period.
    pub first_seen_ms: u64,
    /// Denials in the last ten minutes, for repeat-offender escalation.
    #[serde(default)]
    pub recent_denials: u32,
    /// On a denial, the challenges this client was offered last (`gatehouse_core::outstanding`).
    #[serde(default)]
    pub outstanding: Outstanding,
}

#[derive(Serialize, Deserialize)]
struct OffersCall {
    minted: Vec<Offer>,
    now_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct ForgetCall {
    id: String,
}

#[derive(Serialize, Deserialize)]
struct SpendCall {
    cost: u32,
    /// When the token expires; the counter is deleted a little after.
    expires_at_ms: u64,
}

#[durable_object]
pub struct GateCounter {
    state: State,
    cache: RefCell<Option<ClientState>>,
}

impl DurableObject for GateCounter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            cache: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/quota" => {
                let call: QuotaCall = req.json().await?;
                Response::from_json(&self.quota(call).await?)
            }
            "/spend" => {
                let call: SpendCall = req.json().await?;
                Response::from_json(&self.spend(call).await?)
            }
            "/redeem" => {
                let call: SpendCall = req.json().await?;
                Response::from_json(&self.redeem(call).await?)
            }
            "/offers" => {
                let call: OffersCall = req.json().await?;
                let storage = self.state.storage();
                let mut o = storage
                    .get::<Outstanding>(OUTSTANDING_KEY)
                    .await?
                    .unwrap_or_default();
                o.prune(call.now_ms);
                o.remember(&call.minted);
                storage.put(OUTSTANDING_KEY, &o).await?;
                Response::from_json(&serde_json::json!({}))
            }
            "/forget" => {
                let call: ForgetCall = req.json().await?;
                let storage = self.state.storage();
                if let Some(mut o) = storage.get::<Outstanding>(OUTSTANDING_KEY).await? {
                    o.forget(&call.id);
                    storage.put(OUTSTANDING_KEY, &o).await?;
                }
                Response::from_json(&serde_json::json!({}))
            }
            "/metrics/add" => {
                let call: AddCall = req.json().await?;
                let storage = self.state.storage();
                let mut series = storage.get::<Series>(SERIES_KEY).await?.unwrap_or_default();
                series.add(&call.delta, call.now_ms);
                storage.put(SERIES_KEY, &series).await?;
                let mut controller = storage
                    .get::<Controller>(CONTROLLER_KEY)
                    .await?
                    .unwrap_or_default();
                let difficulty = call
                    .controller
                    .map(|c| controller.step(&c, &call.delta, call.now_ms));
                storage.put(CONTROLLER_KEY, &controller).await?;
                Response::from_json(&serde_json::json!({ "difficulty": difficulty }))
            }
            "/metrics/read" => {
                let call: ReadCall = req.json().await?;
                let series = self
                    .state
                    .storage()
                    .get::<Series>(SERIES_KEY)
                    .await?
                    .unwrap_or_default();
                Response::from_json(&series.stats(call.since_ms, call.until_ms))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // Every admission pushes the alarm out, so firing means the counters are idle and dead.
        self.state.storage().delete_all().await?;
        *self.cache.borrow_mut() = None;
        Response::empty()
    }
}

impl GateCounter {
    async fn load(&self) -> Result<ClientState> {
        if let Some(c) = self.cache.borrow().clone() {
            return Ok(c);
        }
        let storage = self.state.storage();
        Ok(ClientState {
            states: storage
                .get::<BTreeMap<String, QuotaState>>(COUNTERS_KEY)
                .await?
                .unwrap_or_default(),
            first_seen_ms: storage.get::<u64>(FIRST_SEEN_KEY).await?,
        })
    }

    /// Read → `client_counter::step` → write.
    async fn quota(&self, call: QuotaCall) -> Result<QuotaReply> {
        let storage = self.state.storage();
        let current = self.load().await?;
        let (next, stepped) = step(&current, &call.checks, call.now_ms);
        storage.put(COUNTERS_KEY, &next.states).await?;
        if current.first_seen_ms.is_none() {
            storage.put(FIRST_SEEN_KEY, stepped.first_seen_ms).await?;
        }
        storage.set_alarm(alarm_time(stepped.alarm_at_ms)).await?;
        *self.cache.borrow_mut() = Some(next);
        let outstanding = if stepped.decision.allowed {
            Outstanding::default()
        } else {
            storage
                .get::<Outstanding>(OUTSTANDING_KEY)
                .await?
                .unwrap_or_default()
        };
        Ok(QuotaReply {
            decision: stepped.decision,
            first_seen_ms: stepped.first_seen_ms,
            recent_denials: stepped.recent_denials,
            outstanding,
        })
    }

    async fn spend(&self, call: SpendCall) -> Result<Spent> {
        let mut counter = self.counter().await?;
        let spent = counter.spend(call.cost);
        self.save(&counter, call.expires_at_ms).await?;
        Ok(spent)
    }

    /// Claims a credential's payment for a redemption. The input gate makes this read and write
    /// one step, so a spend and a claim racing each other cannot both win.
    async fn redeem(&self, call: SpendCall) -> Result<Spent> {
        let mut counter = self.counter().await?;
        let redeemed = counter.claim();
        self.save(&counter, call.expires_at_ms).await?;
        Ok(Spent {
            used: counter.used.unwrap_or(0),
            redeemed,
        })
    }

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

fn alarm_time(at_ms: u64) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&JsValue::from_f64(at_ms as f64)))
}

fn unavailable(e: worker::Error) -> Denial {
    worker::console_error!(
        "{{\"event\":\"dependency_failed\",\"dependency\":\"quota_store\",\"error\":{:?}}}",
        e.to_string()
    );
    Denial::DependencyUnavailable(Dependency::QuotaStore)
}

/// Asks the client's counters whether the request's checks all fit.
pub async fn check_quota(
    env: &Env,
    client_key: &str,
    checks: Vec<Check>,
    now_ms: u64,
) -> std::result::Result<QuotaReply, Denial> {
    let body = QuotaCall { checks, now_ms };
    call(env, &format!("quota:{client_key}"), "/quota", &body)
        .await
        .map_err(unavailable)
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
    call::<_, Spent>(env, &format!("token:{jti}"), "/spend", &body)
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
    call::<_, Spent>(env, &format!("token:{jti}"), "/redeem", &body)
        .await
        .map(|s| s.redeemed)
        .map_err(unavailable)
}

/// Remembers the challenges just minted for this client, to offer them again.
pub async fn remember_offers(
    env: &Env,
    client_key: &str,
    minted: Vec<Offer>,
    now_ms: u64,
) -> std::result::Result<(), Denial> {
    let body = OffersCall { minted, now_ms };
    call::<_, serde_json::Value>(env, &format!("quota:{client_key}"), "/offers", &body)
        .await
        .map(|_| ())
        .map_err(unavailable)
}

/// Forgets a redeemed challenge, so it is not offered again.
pub async fn forget_offer(
    env: &Env,
    client_key: &str,
    id: &str,
) -> std::result::Result<(), Denial> {
    let body = ForgetCall { id: id.into() };
    call::<_, serde_json::Value>(env, &format!("quota:{client_key}"), "/forget", &body)
        .await
        .map(|_| ())
        .map_err(unavailable)
}
