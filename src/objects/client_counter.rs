//! `GateCounter`: one Durable Object per client (named by its client key), holding its
//! sliding-window counters (one per route and per matching limit), its recent denials and when
//! it was first seen (`gatehouse_core::metering::client_counter`), and the challenges it was last offered
//! (`gatehouse_core::rails::outstanding`). The class keeps the name it had when it also held credentials
//! and metrics, so that a deployment upgrades to the split objects without a rename migration and
//! every client's counters carry over.
//!
//! Each handler is read → core step → write with only storage operations in between. The runtime's
//! input gate holds back every other event for this object while a storage operation is in
//! flight, and the output gate holds the reply until the write is durable, so no two requests to
//! one counter can interleave and no reply reports a count that could be lost.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use gatehouse_core::metering::client_counter::{alarm_move, step_leasing, ClientState};
use gatehouse_core::metering::lease::Unspent;
use gatehouse_core::metering::quota::{Check, Decision, QuotaState};
use gatehouse_core::rails::challenge::Offer;
use gatehouse_core::rails::outstanding::Outstanding;
use gatehouse_core::wire::denial::Denial;

use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use worker::d1::serde_wasm_bindgen;

use crate::objects::call::{alarm_time, call, unavailable, Binding};

const COUNTERS_KEY: &str = "counters";
const FIRST_SEEN_KEY: &str = "first_seen";
const OUTSTANDING_KEY: &str = "outstanding";

#[derive(Serialize, Deserialize)]
struct QuotaCall {
    checks: Vec<Check>,
    now_ms: u64,
    /// The route whose outstanding challenges a denial is answered with.
    #[serde(default)]
    route: Option<String>,
    /// Units the isolate asks to lease beyond each check's cost (`metering::lease`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    wants: Vec<u32>,
    /// Units of expired leases the isolate did not spend, given back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unspent: Vec<Unspent>,
}

#[derive(Serialize, Deserialize)]
pub struct QuotaReply {
    pub decision: Decision,
    /// When this client was first counted, for the legacy grace period.
    pub first_seen_ms: u64,
    /// Denials in the last ten minutes, for repeat-offender escalation.
    #[serde(default)]
    pub recent_denials: u32,
    /// On a denial, the challenges this client was offered last (`gatehouse_core::rails::outstanding`).
    #[serde(default)]
    pub outstanding: Outstanding,
    /// Units leased beyond each check's cost, counted with the request.
    #[serde(default)]
    pub granted: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
struct OffersCall {
    minted: Vec<Offer>,
    now_ms: u64,
    #[serde(default)]
    route: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ForgetCall {
    id: String,
    #[serde(default)]
    route: Option<String>,
}

/// Where a route's outstanding challenges are kept: apart per route, since a challenge buys a
/// token for the route it was issued on only, and a 402 on one route must never offer another's.
/// (Routes are the operator's, so their number is bounded.) A challenge kept before routes were
/// kept apart, under the bare key, is never offered again.
fn outstanding_key(route: Option<&str>) -> String {
    match route {
        Some(route) => format!("{OUTSTANDING_KEY}:{route}"),
        None => OUTSTANDING_KEY.to_string(),
    }
}

#[durable_object(alarm)]
pub struct GateCounter {
    state: State,
    cache: RefCell<Option<ClientState>>,
    /// The alarm this instance scheduled (`None` until it did: after a restart it sets one).
    alarm_at: Cell<Option<u64>>,
}

impl DurableObject for GateCounter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            cache: RefCell::new(None),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/quota" => {
                let call: QuotaCall = req.json().await?;
                Response::from_json(&self.quota(call).await?)
            }
            "/offers" => {
                let call: OffersCall = req.json().await?;
                let storage = self.state.storage();
                let key = outstanding_key(call.route.as_deref());
                let mut o = storage.get::<Outstanding>(&key).await?.unwrap_or_default();
                o.prune(call.now_ms);
                o.remember(&call.minted);
                storage.put(&key, &o).await?;
                Response::ok("{}")
            }
            "/forget" => {
                let call: ForgetCall = req.json().await?;
                let storage = self.state.storage();
                let key = outstanding_key(call.route.as_deref());
                if let Some(mut o) = storage.get::<Outstanding>(&key).await? {
                    o.forget(&call.id);
                    storage.put(&key, &o).await?;
                }
                Response::ok("{}")
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // Every admission pushes the alarm out, so firing means the counters are idle and dead.
        self.state.storage().delete_all().await?;
        *self.cache.borrow_mut() = None;
        self.alarm_at.set(None);
        Response::empty()
    }
}

impl GateCounter {
    async fn load(&self) -> Result<ClientState> {
        if let Some(c) = self.cache.borrow().clone() {
            return Ok(c);
        }
        let storage = self.state.storage();
        // Stored as one JSON string (cheaper to write than an object graph); a counter written
        // before that holds the object. Either is read through the runtime's JSON.parse and the
        // one object reader, so the Wasm carries a single reader for the counters.
        let states = match storage.get::<String>(COUNTERS_KEY).await {
            Ok(Some(json)) => {
                let value = worker::js_sys::JSON::parse(&json)?;
                serde_wasm_bindgen::from_value(value)
                    .map_err(|e| worker::Error::from(e.to_string()))?
            }
            Ok(None) => BTreeMap::new(),
            Err(_) => storage
                .get::<BTreeMap<String, QuotaState>>(COUNTERS_KEY)
                .await?
                .unwrap_or_default(),
        };
        Ok(ClientState {
            states,
            first_seen_ms: storage.get::<u64>(FIRST_SEEN_KEY).await?,
        })
    }

    /// Read → `client_counter::step_leasing` → write.
    async fn quota(&self, call: QuotaCall) -> Result<QuotaReply> {
        let storage = self.state.storage();
        let current = self.load().await?;
        let (next, stepped, granted) = step_leasing(
            &current,
            &call.checks,
            &call.wants,
            &call.unspent,
            call.now_ms,
        );
        storage
            .put(COUNTERS_KEY, serde_json::to_string(&next.states)?)
            .await?;
        if current.first_seen_ms.is_none() {
            storage.put(FIRST_SEEN_KEY, stepped.first_seen_ms).await?;
        }
        if let Some(at) = alarm_move(self.alarm_at.get(), stepped.alarm_at_ms) {
            storage.set_alarm(alarm_time(at)).await?;
            self.alarm_at.set(Some(at));
        }
        *self.cache.borrow_mut() = Some(next);
        let outstanding = if stepped.decision.allowed {
            Outstanding::default()
        } else {
            match &call.route {
                Some(route) => storage
                    .get::<Outstanding>(&outstanding_key(Some(route)))
                    .await?
                    .unwrap_or_default(),
                // A check that offers nothing (limits, ceilings, meters) needs no challenges.
                None => Outstanding::default(),
            }
        };
        Ok(QuotaReply {
            decision: stepped.decision,
            first_seen_ms: stepped.first_seen_ms,
            recent_denials: stepped.recent_denials,
            outstanding,
            granted,
        })
    }
}

/// The object's name: `quota:<client key>`, as it was when the class also held other kinds of
/// objects, so that every client keeps its object (and its counters) across the upgrade.
fn object_name(client_key: &str) -> String {
    format!("quota:{client_key}")
}

/// Asks the client's counters whether the request's checks all fit.
pub async fn check_quota(
    env: &Env,
    client_key: &str,
    checks: Vec<Check>,
    now_ms: u64,
) -> std::result::Result<QuotaReply, Denial> {
    let lease = Lease::default();
    check_route_quota(env, client_key, None, checks, lease, now_ms).await
}

/// What a request asks to lease and gives back (`gatehouse_core::metering::lease`).
#[derive(Default)]
pub struct Lease {
    pub wants: Vec<u32>,
    pub unspent: Vec<Unspent>,
}

/// The same for a route's quota, whose denial brings back the route's outstanding challenges.
pub async fn check_route_quota(
    env: &Env,
    client_key: &str,
    route: Option<&str>,
    checks: Vec<Check>,
    lease: Lease,
    now_ms: u64,
) -> std::result::Result<QuotaReply, Denial> {
    let route = route.map(str::to_string);
    let body = QuotaCall {
        checks,
        now_ms,
        route,
        wants: lease.wants,
        unspent: lease.unspent,
    };
    call(
        env,
        Binding::Clients,
        &object_name(client_key),
        "/quota",
        &body,
    )
    .await
    .map_err(unavailable)
}

/// Remembers the challenges just minted for this client, to offer them again.
pub async fn remember_offers(
    env: &Env,
    client_key: &str,
    route: &str,
    minted: Vec<Offer>,
    now_ms: u64,
) -> std::result::Result<(), Denial> {
    let route = Some(route.to_string());
    let body = OffersCall {
        minted,
        now_ms,
        route,
    };
    call::<_, serde_json::Value>(
        env,
        Binding::Clients,
        &object_name(client_key),
        "/offers",
        &body,
    )
    .await
    .map(|_| ())
    .map_err(unavailable)
}

/// Forgets a redeemed challenge, so it is not offered again.
pub async fn forget_offer(
    env: &Env,
    client_key: &str,
    route: Option<&str>,
    id: &str,
) -> std::result::Result<(), Denial> {
    let body = ForgetCall {
        id: id.into(),
        route: route.map(str::to_string),
    };
    call::<_, serde_json::Value>(
        env,
        Binding::Clients,
        &object_name(client_key),
        "/forget",
        &body,
    )
    .await
    .map(|_| ())
    .map_err(unavailable)
}
