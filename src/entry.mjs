// The Worker's module entry: the gate's `fetch` and `scheduled` handlers as a plain module
// export, beside the Durable Object classes as worker-build's shim (build/index.js) exports them.
//
// The shim's default export is a `WorkerEntrypoint` class behind a Proxy. The runtime builds an
// instance of it for every request, and the Proxy wraps that instance, and then the handler it
// hands out, in two more proxies with an async trampoline: about a tenth of the token path's CPU
// (bench/results.md). Those proxies exist to rebuild wasm-bindgen class instances after the Wasm
// instance is reset, which only the Durable Object classes have, so those stay as the shim makes
// them. The handlers here are stateless.
//
// After a Rust panic (an abort), the shim's own check resets the Wasm instance once and clears
// the panic flag the `worker` crate raised. That check runs when the shim's class is built, so
// a request that finds the flag raised builds it once first: the reset happens here, before the
// handler runs, and not again later under a Durable Object call with requests in flight.
import Shim from './index.js';

export * from './index.js';

const { fetch, scheduled } = Shim.prototype;
const state = globalThis.__worker_init_state;

function recovered(env, ctx) {
  if (!state?.criticalError) return;
  const before = state.instanceId;
  try {
    Reflect.construct(Shim, [ctx, env]);
  } catch (e) {
    // When the reset went through and only the construction failed, a flag left raised would
    // reset again on every request; when the reset itself failed, it stays raised, for the next
    // request to try again.
    if (state.instanceId !== before) state.criticalError = false;
    console.error('Critical', e);
  }
}

export default {
  fetch(request, env, ctx) {
    recovered(env, ctx);
    return fetch.call({ env, ctx }, request);
  },
  scheduled(event, env, ctx) {
    recovered(env, ctx);
    return scheduled.call({ env, ctx }, event);
  },
};
