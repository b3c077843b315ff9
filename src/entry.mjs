// The Worker's module entry: the gate's `fetch` and `scheduled` handlers as a plain module
// export, beside the Durable Object classes as worker-build's shim (build/index.js) exports them.
//
// The shim's default export is a `WorkerEntrypoint` class behind a Proxy. The runtime builds an
// instance of it for every request, and the Proxy wraps that instance, and then the handler it
// hands out, in two more proxies with an async trampoline: about a tenth of the token path's CPU
// (bench/results.md). Those proxies exist to rebuild wasm-bindgen class instances after the Wasm
// instance is reset, which only the Durable Object classes have, so those stay as the shim makes
// them. The handlers here are stateless. After a Rust panic (an abort), the wasm-bindgen glue
// marks the instance for a reset and performs it on its next call, so the next request runs on a
// fresh instance without help from here.
import Shim from './index.js';

export * from './index.js';

const { fetch, scheduled } = Shim.prototype;

export default {
  fetch(request, env, ctx) {
    return fetch.call({ env, ctx }, request);
  },
  scheduled(event, env, ctx) {
    return scheduled.call({ env, ctx }, event);
  },
};
