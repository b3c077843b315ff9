// Binding failures are the gateway's problem, not the client's: a failing D1 or Durable Object
// gives 503 with Retry-After, never 402 or 429. Faults are injected into real bindings: a D1
// whose tables are gone, and a Durable Object namespace whose class throws.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../demo/origin.mjs';
import { startGateway, testKey, DURABLE_OBJECTS } from './support/gateway.mjs';
import { JSON_RPC_CALL, exhaust, redeem, solve } from './support/pow-flow.mjs';

const post = (url, headers = {}) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON_RPC_CALL });

async function assertUnavailable(res) {
  assert.equal(res.status, 503);
  assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After is set');
  assert.equal((await res.json()).error, 'temporarily_unavailable');
}

describe('D1 failures', () => {
  let origin, gateway;
  before(async () => {
    origin = await startOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('a challenge that cannot be stored is a 503, and a redemption that cannot be read too', async () => {
    const first = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('d1') });
    const [c] = (await first.json()).challenges;
    const nonce = await solve(c);
    // Another client (d1 itself would be offered its outstanding challenge again, from its counter).
    await gateway.db.prepare('DROP TABLE challenges').run();
    // A client at quota for the first time: its challenge must be stored, and cannot be.
    let res;
    for (let i = 0; i < 500; i++) {
      res = await post(gateway.mcpUrl, { 'x-api-key': testKey('d1-next') });
      if (res.status !== 200 && res.status !== 400) break;
      await res.arrayBuffer();
    }
    await assertUnavailable(res);
    const r = await fetch(c.verify_url, { method: 'POST', headers: { 'x-api-key': testKey('d1') }, body: JSON.stringify({ challenge_id: c.challenge_id, solution: { nonce } }) });
    await assertUnavailable(r);
  });

  test('a revocation list that cannot be read is a 503 for token holders', async () => {
    const g = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1' } });
    try {
      const res = await exhaust(g.mcpUrl);
      const [c] = (await res.json()).challenges;
      const { body } = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } });
      await g.db.prepare('DROP TABLE revoked_tokens').run();
      // The isolate's first token check loads the list, which now fails.
      await assertUnavailable(await post(g.mcpUrl, { 'x-access-token': body.access_token }));
    } finally {
      await g.dispose();
    }
  });
});

test('a failing Durable Object is a 503, never a 402', async () => {
  const origin = await startOrigin();
  const gateway = await startGateway({
    originUrl: origin.url,
    workerOverrides: { durableObjects: { ...DURABLE_OBJECTS, COUNTERS: { className: 'Broken', scriptName: 'faulty', useSQLite: true } } },
    extraWorkers: [{
      name: 'faulty',
      modules: true,
      script: 'export class Broken { async fetch() { throw new Error("injected fault"); } }\nexport default { fetch() { return new Response("faulty"); } };',
      compatibilityDate: '2026-11-01',
      durableObjects: { BROKEN: { className: 'Broken', useSQLite: true } },
    }],
  });
  try {
    for (let i = 0; i < 3; i++) await assertUnavailable(await post(gateway.mcpUrl));
  } finally {
    await gateway.dispose();
    await origin.close();
  }
});
