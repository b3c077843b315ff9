// The module entry (src/entry.mjs) when the Wasm instance fails: a panic, an instance found
// dead, a reset that fails. Real workerd (Miniflare), with probe modules around the built entry
// and bundle (support/lane-probe.mjs) where a failure cannot be had on request.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOrigin } from '../demo/origin.mjs';
import { CONTRACT_BUILD, ROOT, gatewayModules, startGateway, testKey } from './support/gateway.mjs';
import { startOddOrigin } from './support/odd-origin.mjs';
import { laneCountingModules, laneCounts, probedModules } from './support/lane-probe.mjs';

const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
const JSON_POST = { method: 'POST', headers: { 'content-type': 'application/json' }, body: PING };

describe('the module entry after a panic', () => {
  // A Rust panic raises the `worker` crate's flag (`__worker_init_state.criticalError`); the
  // entry must reset the Wasm instance once and clear it before the next request is handled, or
  // a later Durable Object call resets the instance again under requests in flight. The probe
  // module stands in for a panic by raising the flag in the gateway's isolate.
  test('the next request resets the instance once and is served', async () => {
    const origin = await startOrigin();
    const build = join(ROOT, 'build');
    const probe = `import entry from './entry.mjs';
export * from './entry.mjs';
const state = () => new Response(JSON.stringify(globalThis.__worker_init_state));
export default {
  fetch(req, env, ctx) {
    const path = new URL(req.url).pathname;
    if (path === '/__panic') { globalThis.__worker_init_state.criticalError = true; return state(); }
    if (path === '/__state') return state();
    return entry.fetch(req, env, ctx);
  },
};`;
    const gateway = await startGateway({ originUrl: origin.url, workerOverrides: { modules: [{ type: 'ESModule', path: join(build, 'probe.mjs'), contents: probe }, ...gatewayModules(build)] } });
    try {
      const read = async (path) => (await fetch(`${gateway.url}${path}`)).json();
      const raised = await read('/__panic');
      assert.equal(raised.criticalError, true);
      const res = await fetch(gateway.mcpUrl, JSON_POST);
      assert.equal(res.status, 400, 'proxied to the origin, which wants its session');
      assert.match(await res.text(), /Missing session id/);
      const now = await read('/__state');
      assert.equal(now.criticalError, false, 'the flag is cleared');
      assert.equal(now.instanceId, raised.instanceId + 2, 'one reset (the shim counts it, the fresh instance counts its start)');
      assert.equal((await fetch(gateway.mcpUrl, JSON_POST)).status, 400);
      assert.deepEqual(await read('/__state'), now, 'and no second one');
    } finally {
      await gateway.dispose();
      await origin.close();
    }
  });

  // An instance the shim found terminated (an abort not yet followed by a fresh start) throws
  // `Module terminated` (as the bundle spells it) from every call into it, before the Wasm runs.
  // The probe throws what a failing instance throws, from the lane's calls into the Wasm (the
  // plan's, and the relay's after the origin), and fails the reset (the shim's class, whose
  // construction resets a flagged instance).
  test('an instance found dead before the request is sent on is a 503 with Retry-After, any other failure a 500, each logged, and a terminated instance is reset by the next request', async () => {
    const odd = await startOddOrigin();
    const build = join(ROOT, 'build');
    assert.match(readFileSync(join(build, 'index.js'), 'utf8'), /throw new Error\("Module terminated"\)/);
    const dead = `import Shim from './bundle.js';
export * from './bundle.js';
const thrown = {
  terminated: () => new Error('Module terminated'),
  other: () => new Error('conversion refused'),
  critical: () => new Error('Critical error', { cause: new TypeError('an import threw') }),
  trap: () => new WebAssembly.RuntimeError('unreachable'),
  overflow: () => new RangeError('Maximum call stack size exceeded'),
  string: () => 'a refusal the runtime could not build',
};
const { quick_plan: plan, quick_done: done } = Shim.prototype;
Shim.prototype.quick_plan = function (...args) {
  if (thrown[globalThis.__dead]) throw thrown[globalThis.__dead]();
  return plan.apply(this, args);
};
Shim.prototype.quick_done = function (...args) {
  if (globalThis.__dead === 'late') throw new RangeError('after the origin');
  return done.apply(this, args);
};
const fails = () => { throw new RangeError('WebAssembly.Instance(): Out of memory'); };
export default new Proxy(Shim, { construct: (t, a, n) => (globalThis.__dead === 'unreset' ? fails() : Reflect.construct(t, a, n)) });`;
    const probe = `import entry from './entry.mjs';
export * from './entry.mjs';
const error = console.error;
console.error = (line, ...rest) => { try { (globalThis.__logged ??= []).push(JSON.parse(line)); } catch {} error(line, ...rest); };
export default {
  fetch(req, env, ctx) {
    const u = new URL(req.url);
    const state = globalThis.__worker_init_state;
    if (u.pathname === '/__dead') { globalThis.__dead = u.searchParams.get('as'); state.criticalError ||= globalThis.__dead === 'unreset'; }
    if (u.pathname === '/__dead' || u.pathname === '/__state') return Response.json(state);
    if (u.pathname === '/__logged') return Response.json(globalThis.__logged ?? []);
    return entry.fetch(req, env, ctx);
  },
};`;
    const gateway = await startGateway({ originUrl: odd.url, workerOverrides: { modules: probedModules(build, probe, dead) } });
    const read = async (path) => (await fetch(`${gateway.url}${path}`)).json();
    const call = () => fetch(`${gateway.url}/panic`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }) });
    // Each failure's answer, and what it leaves: the flag raised (a reset at the next request's
    // start) or not, and the instance the request found (reset at its start, or not).
    const fails = async (as, status, raised) => {
      const { instanceId } = await read(`/__dead?as=${as}`);
      const res = await call();
      const answer = status === 503 ? ['temporarily_unavailable', '2'] : ['internal_error', null];
      assert.deepEqual([res.status, (await res.json()).error, res.headers.get('retry-after')], [status, ...answer], as);
      const state = await read('/__state');
      assert.equal(state.criticalError, raised, `${as}: the flag`);
      return state.instanceId > instanceId;
    };
    try {
      assert.equal(await fails('terminated', 503, true), false);
      assert.equal(await fails('other', 500, false), true, 'reset before it, and the throw raises nothing');
      assert.equal(await fails('critical', 500, true), false);
      assert.equal(await fails('trap', 500, true), true);
      assert.equal(await fails('overflow', 500, true), true);
      assert.equal(await fails('string', 500, false), true);
      assert.equal(odd.panics(), 0, 'the origin never saw any of these');
      // Served: the reset, then the lease the lane spends from (the fresh instance has none).
      await read('/__dead?as=');
      for (let i = 0; i < 2; i++) assert.equal((await call()).status, 200);
      assert.equal(await fails('late', 500, false), false, 'a RangeError after the origin is no reset');
      const seen = odd.panics();
      // A flagged instance whose reset fails is not sent the request, and the reset is not
      // tried again within the second (checked when the next request surely falls in it: less
      // than a second here since before the failed reset).
      const start = performance.now();
      assert.equal(await fails('unreset', 503, true), false);
      await read('/__dead?as=');
      const again = await call();
      const within = performance.now() - start < 1000;
      if (within) assert.deepEqual([again.status, odd.panics()], [503, seen]);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const before = odd.panics();
      const served = await call();
      assert.deepEqual([served.status, odd.panics(), (await read('/__state')).criticalError], [200, before + 1, false]);
      const logged = (await read('/__logged')).filter((l) => l.event === 'dependency_failed' && l.dependency === 'wasm_instance');
      const unreset = ['before', 'RangeError: WebAssembly.Instance(): Out of memory'];
      assert.deepEqual(logged.map((l) => [l.when, l.error]), [
        ['before', 'Error: Module terminated'],
        ['before', 'Error: conversion refused'],
        ['before', 'Error: Critical error (TypeError: an import threw)'],
        ['before', 'RuntimeError: unreachable'],
        ['before', 'RangeError: Maximum call stack size exceeded'],
        ['before', 'a refusal the runtime could not build'],
        ['after', 'RangeError: after the origin'],
        unreset,
        ...(again.status === 503 ? [unreset] : []),
      ]);
    } finally {
      await gateway.dispose();
      await odd.close();
    }
  });

  // Real panics, in the test build (the store-contract feature), which panics on request under
  // LOCAL_DEV: before the plan (a request field) and before the relay (a field on the origin's
  // answer).
  test('a panic on the lane is a 500 without Retry-After, never a bare 500, and the next request resets the instance once and is served', async () => {
    const odd = await startOddOrigin();
    // A quota whose lease the lane holds for many requests at once, and the probe to see the
    // lane take them.
    const gateway = await startGateway({ originUrl: odd.url, build: CONTRACT_BUILD, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '100000', CALL_CEILING_PER_MINUTE: '100000' }, workerOverrides: { modules: laneCountingModules(CONTRACT_BUILD) } });
    const me = { 'x-api-key': testKey('panics') };
    const call = (path, headers = {}) => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...me, ...headers }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }) });
    const served = async () => {
      const res = await call('/echo');
      assert.equal(res.status, 200);
      assert.equal((await res.json()).url, '/echo');
    };
    // A 500 with no Retry-After, which no kit takes as leave to send the call again: the same
    // input may panic again, and the origin may have acted.
    const refused = async (res) => {
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('retry-after'), null);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal((await res.json()).error, 'internal_error');
    };
    // Served until the lane plans one (its lease held again), then `fn`'s request on the lane
    // (planned, when `planned`: a panic in the plan itself is the lane's by where it is); then
    // served, by one fresh instance.
    const onTheLane = async (fn, planned) => {
      const start = await laneCounts(gateway.url);
      for (let i = 0; i < 5 && (await laneCounts(gateway.url)).planned === start.planned; i++) await served();
      const before = await laneCounts(gateway.url);
      await fn();
      await served();
      const after = await laneCounts(gateway.url);
      if (planned) assert.ok(after.planned > before.planned, 'the lane planned it');
      assert.equal(after.instanceId, before.instanceId + 2, 'one reset (the shim counts it, the fresh instance its start)');
    };
    try {
      for (let i = 0; i < 3; i++) await served();
      await onTheLane(async () => {
        await refused(await call('/panic', { 'x-gatehouse-test-panic': '1' }));
        assert.equal(odd.panics(), 0, 'the origin never saw it');
      }, false);
      await onTheLane(async () => {
        await refused(await call('/panic'));
        assert.equal(odd.panics(), 1, 'the origin answered it once');
      }, true);
    } finally {
      await gateway.dispose();
      await odd.close();
    }
  });
});
