//! `MetricsObject`: the one object that aggregates every isolate's metrics deltas
//! (`gatehouse_core::metrics::Series`) and runs the adaptive difficulty controller
//! (`gatehouse_core::rails::controller`). Read → core step → write, under the input gate.

use gatehouse_core::metrics::Series;
use gatehouse_core::rails::controller::Controller;
use gatehouse_core::wire::json_object::object;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::objects::metrics_sink::{AddCall, ReadCall};

const SERIES_KEY: &str = "series";
const CONTROLLER_KEY: &str = "controller";

// Only the handler it has: no WebSocket, connect or alarm bindings in the Wasm.
#[durable_object(fetch)]
pub struct MetricsObject {
    state: State,
}

impl DurableObject for MetricsObject {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        match req.path().as_str() {
            "/add" => {
                let call: AddCall = req.json().await?;
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
                Response::from_json(&object([("difficulty", difficulty.into())]))
            }
            "/read" => {
                let call: ReadCall = req.json().await?;
                let series = storage.get::<Series>(SERIES_KEY).await?.unwrap_or_default();
                let mut stats = series.stats(call.since_ms, call.until_ms);
                // The controller's latest choice, which new clients are served.
                let controller = storage.get::<Controller>(CONTROLLER_KEY).await?;
                stats["adaptive_bits"] = controller.and_then(|c| c.last_bits()).into();
                Response::from_json(&stats)
            }
            _ => Response::error("not found", 404),
        }
    }
}
