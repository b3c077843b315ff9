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
//
// The quick lane. A POST with a `Content-Length` within the body cap, to anything but the
// gateway's own endpoints, has its body read here and goes to the gate's synchronous steps
// (`quick_plan`, src/lane.rs and src/routes/gate/quick.rs), which decide everything about it.
// When they admit it, the fetch to the origin is made here, through the same functions the Wasm
// uses (edge.mjs), with no futures executor and none of the `worker` crate's conversions in
// between; `quick_done` then relays the origin's answer as the async path does, and records it.
// Wherever the steps would wait on I/O before the origin, they spend nothing and the request
// takes the async path (`gate_read`) with the body as read here.
import Shim from './index.js';
import { name_set, origin_headers, race } from './edge.mjs';

export * from './index.js';

const { fetch, scheduled, quick_names, quick_plan, quick_done, gate_read } = Shim.prototype;
const state = globalThis.__worker_init_state;

/** The lane's constants and the answers to a request the Wasm fails under, from the Wasm once,
 * when the module loads (`quick_names`, src/lane.rs). */
const names = (() => {
  const [cap, own, origin, failed] = quick_names().split('\n');
  return { cap: Number(cap), own: own.split(','), origin: name_set(origin), failed: JSON.parse(failed) };
})();

/** A request the Wasm failed under. Its own panic aborts the instance and surfaces as a
 * `WebAssembly.RuntimeError`; the shim then starts a fresh instance at the next call into it, or
 * the next request resets it (`recovered`). The answer is the Wasm's own, prepared at load:
 * `after` (a 500 that no kit retries) for the request's own panic, which the same input may
 * cause again, for any other throw (the Wasm's own `Err`, a conversion the runtime refused), and
 * for any failure once the origin may have acted; `before` (a 503 with `Retry-After`, as for any
 * failed dependency) only for an instance found dead before the request was sent on: a reset
 * that failed (`dead`), or the shim's `Module terminated`, thrown before any Wasm runs when it
 * has no fresh instance scheduled. Not the runtime's bare 500, on the lane; a panic inside the
 * async path's future leaves its promise unsettled, which only the runtime answers. */
function failed(error, when, dead = false) {
  dead = reported(error, when, dead);
  const { status, headers, body } = names.failed[dead ? 'before' : 'after'];
  return new Response(body, { status, headers });
}

/** Logs a failure (`dependency_failed`, cut to 256 characters) and raises the instance's flag
 * when it left the instance terminated; whether the instance is dead. Throws nothing, whatever
 * was thrown: a value whose fields or prototype throw when read is logged as unprintable. */
function reported(error, when, dead) {
  let text = 'unprintable';
  let flag = dead;
  try {
    const named = error instanceof Error;
    const message = named ? String(error.message) : '';
    text = named ? `${error.name}: ${message}` : String(error);
    if (named && error.cause instanceof Error) text += ` (${error.cause.name}: ${error.cause.message})`;
    const terminated = message === 'Module terminated';
    dead ||= when === 'before' && terminated;
    // A dead instance stays dead until it is reset. What escapes a call into the Wasm (a trap,
    // the glue's `Critical error`, and before the origin, where every throw is a synchronous
    // call's, a stack overflow) has terminated it, and only a panic raises the flag by itself:
    // raised here, the next request resets the instance before its arguments are copied into
    // it. (A `RangeError` later may be an async path's rejection, from a healthy instance.)
    const escaped = error instanceof WebAssembly.RuntimeError || message === 'Critical error';
    flag = dead || terminated || escaped || (when === 'before' && error instanceof RangeError);
  } catch {
    // Answered as any other failure.
  }
  if (state && flag) state.criticalError = true;
  console.error(JSON.stringify({ event: 'dependency_failed', dependency: 'wasm_instance', when, error: text.slice(0, 256) }));
  return dead;
}

/** Whether the lane may read this request's body: never for the gateway's own endpoints (looked
 * for anywhere in the URL, which only ever sends more to the async path than needs to go). */
function forLane(request) {
  if (request.method !== 'POST') return false;
  const length = request.headers.get('content-length');
  if (length === null || !(Number(length) <= names.cap)) return false;
  const url = request.url;
  return !names.own.some((own) => url.includes(own));
}

async function quickly(request, env, ctx) {
  let body;
  try {
    body = new Uint8Array(await request.arrayBuffer());
  } catch {
    // The async path finds the body unreadable, and answers it as it does.
    try {
      return fetch.call({ env, ctx }, request);
    } catch (e) {
      return failed(e, 'before');
    }
  }
  let lines = '';
  // The fixed names dropped toward the origin that this request carries, found on the way.
  const drop = [];
  for (const [name, value] of request.headers) {
    lines += lines ? `\n${name}\n${value}` : `${name}\n${value}`;
    if (names.origin.has(name)) drop.push(name);
  }
  let plan;
  try {
    plan = quick_plan(env, ctx, request.url, lines, request.cf != null, body);
    // The async path's synchronous start; what it settles to later is `fetch`'s to catch.
    if (plan === undefined) return gate_read(request, env, ctx, body);
  } catch (e) {
    return failed(e, 'before');
  }
  if (plan instanceof Response) return plan;
  const [head, sent] = Array.isArray(plan) ? plan : [plan, body];
  const f = head.split('\n');
  const exchange = send(request, drop, f, sent).then(([response, error, unbuilt]) => quick_done(env, ctx, Number(f[0]), response, error, unbuilt === true));
  // Reported back even when the client leaves first: the request was charged, and is recorded.
  ctx.waitUntil(exchange.catch(() => {}));
  return exchange;
}

/** The origin call of a plan: `[response]`, `[undefined, error]`, `[]` at the deadline, or
 * `[undefined, undefined, true]` when the runtime refused the headers for the origin. */
async function send(request, drop, f, body) {
  let headers;
  try {
    headers = origin_headers(request.headers, drop, f[4], f.slice(5).join('\n'));
  } catch {
    return [undefined, undefined, true];
  }
  try {
    const response = await race(f[1], { method: 'POST', headers, body, redirect: 'manual' }, Number(f[2]), false);
    return response === null ? [] : [response];
  } catch (e) {
    return [undefined, typeof e === 'string' ? e : String(e?.message ?? 'fetch failed')];
  }
}

// The instance id the last request found healthy: a panic leaves `criticalError` raised, and
// when the shim has started a fresh instance since (at the first call into the Wasm after the
// abort, which counts its start), the reset is done, and a second one would kill the requests
// that instance holds.
let healthy = state?.instanceId;

// A reset that failed (the runtime could not build a fresh instance: memory) is tried again
// once a second at most, and the requests in between are answered at once, not each spent on
// another attempt.
const RESET_RETRY_MS = 1000;
let unreset = null;

/** Resets an instance a failure left terminated, once: `null`, or `{ error }` when that reset
 * failed, and the instance is still the dead one (an object, whatever was thrown). */
function recovered(env, ctx) {
  if (!state?.criticalError) {
    if (state) healthy = state.instanceId;
    return null;
  }
  if (state.instanceId !== healthy) {
    state.criticalError = false;
    healthy = state.instanceId;
    unreset = null;
    return null;
  }
  if (unreset && Date.now() - unreset.at < RESET_RETRY_MS) return unreset;
  const before = state.instanceId;
  try {
    Reflect.construct(Shim, [ctx, env]);
  } catch (e) {
    // When the reset itself failed, the flag stays raised, for a later request to try again,
    // and this one is not sent into the dead instance. When only the construction after it
    // failed, a flag left raised would reset again on every request.
    if (state.instanceId === before) {
      unreset = { at: Date.now(), error: e };
      return unreset;
    }
    state.criticalError = false;
    console.error('Critical', e);
  }
  unreset = null;
  healthy = state.instanceId;
  return null;
}

export default {
  async fetch(request, env, ctx) {
    let answer;
    try {
      const dead = recovered(env, ctx);
      if (dead) return failed(dead.error, 'before', true);
      answer = forLane(request) ? quickly(request, env, ctx) : fetch.call({ env, ctx }, request);
    } catch (e) {
      return failed(e, 'before');
    }
    try {
      return await answer;
    } catch (e) {
      return failed(e, 'after');
    }
  },
  scheduled(event, env, ctx) {
    // A dead instance is not called; the next cron tick tries again.
    const dead = recovered(env, ctx);
    if (dead) {
      reported(dead.error, 'scheduled', true);
      throw dead.error;
    }
    return scheduled.call({ env, ctx }, event);
  },
};
