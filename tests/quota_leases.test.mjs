// The quota path in steady state (docs/PROTOCOL.md §5, `metering::lease`): a busy client's
// counter leases units of its windows to the isolate, which admits from them with no counter
// call; near the quota every request is the counter's again, so what is admitted and what is
// refused are exact. The counters are reached through the spy (tests/support/counter-spy.mjs),
// which counts every call and fails on demand.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../demo/origin.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { spyCalls, withCounterSpy } from './support/counter-spy.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
// An initialize, which the SDK origin answers 200 without a session.
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'leases', version: '1' } } });

let origin;
before(async () => { origin = await startOrigin(); });
after(async () => origin?.close());

async function gatewayWith(vars) {
  return startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', ...vars }, ...withCounterSpy() });
}

const send = async (gateway, key) => {
  const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': key }, body: INITIALIZE });
  await res.arrayBuffer();
  return res;
};

describe('a busy client under its quota', () => {
  let gateway;
  before(async () => { gateway = await gatewayWith({ QUOTA_PER_MINUTE: '1000000', CALL_CEILING_PER_MINUTE: '1000000' }); });
  after(() => gateway?.dispose());

  test('makes at most one counter call per hundred admitted requests once its leases grew', async () => {
    const key = testKey('busy');
    for (let i = 0; i < 300; i++) assert.equal((await send(gateway, key)).status, 200);
    const before = (await spyCalls(gateway)).GateCounter;
    const N = 1_000;
    for (let i = 0; i < N; i++) {
      const res = await send(gateway, key);
      assert.equal(res.status, 200);
      // Every admission still tells the client where it stands.
      assert.match(res.headers.get('ratelimit') ?? '', /r=\d+/);
    }
    const calls = (await spyCalls(gateway)).GateCounter - before;
    console.log(`quota path: ${calls} counter calls for ${N} admitted requests`);
    assert.ok(calls * 100 <= N, `${calls} counter calls for ${N} requests`);
  });

  test('is admitted from its lease while the counter fails, then gets a 503, never a 402', async () => {
    const key = testKey('busy-through-a-fault');
    for (let i = 0; i < 400; i++) await send(gateway, key);
    await spyCalls(gateway, '/break');
    const statuses = [];
    try {
      for (let i = 0; i < 50; i++) statuses.push((await send(gateway, key)).status);
    } finally {
      await spyCalls(gateway, '/mend');
    }
    assert.ok(statuses[0] === 200, `the lease served the first: ${statuses}`);
    assert.ok(statuses.every((s) => s === 200 || s === 503), `${statuses}`);
  });
});

describe('near the quota', () => {
  let gateway;
  before(async () => { gateway = await gatewayWith({ QUOTA_PER_MINUTE: '60', IN_BAND_CHALLENGES: 'false' }); });
  after(() => gateway?.dispose());

  test('exactly the quota is admitted, and the refusal is the counter\'s own', async () => {
    const key = testKey('edge');
    const statuses = [];
    let refusal;
    for (let i = 0; i < 90; i++) {
      const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': key }, body: INITIALIZE });
      statuses.push(res.status);
      if (res.status === 402 && !refusal) refusal = { retryAfter: Number(res.headers.get('retry-after')), ratelimit: res.headers.get('ratelimit') };
      await res.arrayBuffer();
    }
    assert.equal(statuses.filter((s) => s === 200).length, 60, `${statuses}`);
    assert.ok(statuses.slice(60).every((s) => s === 402));
    // Never early, and late by at most one of the window's 60 buckets (metering::quota).
    assert.ok(refusal.retryAfter > 0 && refusal.retryAfter <= 61, JSON.stringify(refusal));
    assert.match(refusal.ratelimit, /r=0\b/);
  });
});
