// Ceilings against the built gateway in workerd; each was dodged in an earlier version, and each
// test asserts the bound docs/threat-model.md promises.
//  - "Calls weighed at 0 still meet a per-client call ceiling": not on the credential path, where
//    a request of 64 zero-weight calls costs one unit of a grant and no ceiling is checked.
//  - Under RATE_KEY_UNVERIFIED the address ceiling is charged the quota cost, 0 for zero-weight
//    calls, and each rotated header value is a new client with a fresh call ceiling.
//  - A resource limit written for the origin's URI form is dodged by a spelling the gateway
//    accepts as canonical and the SDK origin (`new URL(uri).toString()`) reads as that URI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buyToken, call, exhaust, post, tally } from './support/attack.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';

const LISTS = Array.from({ length: 64 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: ['tools/list', 'resources/list', 'prompts/list', 'resources/templates/list'][i % 4] }));
const costs = [{ method: '*/list', weight: 0 }, { method: 'ping', weight: 0 }];

describe('zero-weight calls and the call ceiling', () => {
  let origin;
  before(async () => { origin = await startRecordingOrigin(); });
  after(async () => { await origin?.close(); });

  test('a token holder meets the call ceiling too', async () => {
    const POLICY = JSON.stringify({ origins: [{ name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 2 }, costs }] });
    const g = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key', MAX_BATCH_CALLS: '64', CALL_CEILING_PER_MINUTE: '128', TOKEN_GRANT_REQUESTS: '60', POW_ADAPTIVE: 'false' } });
    try {
      const me = { 'x-api-key': testKey('paid-lister') };
      const token = await buyToken(g.url, await exhaust(g.mcpUrl, me), me);
      const before = origin.calls().length;
      const statuses = [];
      for (let i = 0; i < 50; i++) statuses.push((await post(g.mcpUrl, LISTS, { ...me, 'x-access-token': token })).status);
      const executed = origin.calls().length - before;
      console.log(`token, 50 batches of 64 zero-weight calls, ceiling 128/min: ${JSON.stringify(tally(statuses))}, origin executed ${executed}`);
      assert.ok(executed <= 128 * 2, `${executed} origin calls in a minute past a ceiling of 128`);
    } finally {
      await g.dispose();
    }
  });

  test('one address rotating unverified keys meets a ceiling on zero-weight calls', async () => {
    const POLICY = JSON.stringify({ origins: [{ name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 2 }, costs }] });
    const g = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-user', RATE_KEY_UNVERIFIED: 'true', ADDRESS_CEILING_PER_MINUTE: '10', MAX_BATCH_CALLS: '64', CALL_CEILING_PER_MINUTE: '128' } });
    try {
      const before = origin.calls().length;
      const statuses = [];
      for (let i = 0; i < 50; i++) statuses.push((await post(g.mcpUrl, LISTS, { 'x-user': `r-${i}` })).status);
      const executed = origin.calls().length - before;
      console.log(`one address, 50 rotated keys x 64 zero-weight calls, address ceiling 10, call ceiling 128: ${JSON.stringify(tally(statuses))}, origin executed ${executed}`);
      assert.ok(executed <= 128 * 2, `${executed} origin calls from one address in a minute`);
    } finally {
      await g.dispose();
    }
  });
});

describe('resource limits and URI spelling', () => {
  let origin;
  before(async () => { origin = await startRecordingOrigin(); });
  after(async () => { await origin?.close(); });

  test('a limit on test://x/secret* holds against spellings the origin reads as the same URI', async () => {
    const POLICY = JSON.stringify({ origins: [{ name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 100 }, limits: [{ name: 'secret', resource: 'test://x/secret*', per_minute: 1 }] }] });
    const g = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key' } });
    try {
      const me = { 'x-api-key': testKey('speller') };
      const read = (uri) => post(g.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } }, me);
      assert.equal((await read('test://x/secret')).status, 200);
      assert.equal((await read('test://x/secret')).status, 429, 'the limit holds for the plain spelling');
      const dodges = ['test://@x/secret', 'test://:@x/secret', 'test://x:/secret'];
      const through = [];
      for (const uri of dodges) {
        assert.equal(new URL(uri).toString(), 'test://x/secret', 'the SDK origin reads it as the limited URI');
        const s = (await read(uri)).status;
        if (s === 200) through.push(uri);
      }
      console.log(`limited resource read past its limit via: ${JSON.stringify(through)}`);
      assert.deepEqual(through, [], 'spellings of a limited URI got through');
    } finally {
      await g.dispose();
    }
  });
});

describe('per-tool limits on a token that runs out', () => {
  let origin;
  before(async () => { origin = await startRecordingOrigin(); });
  after(async () => { await origin?.close(); });

  // A token agrees to the per-tool limits before it spends; when its grant turns out to be
  // spent (concurrent requests of one token), the request goes on to the quota, which charges
  // the limits only if they were not charged on the way. A burst that outruns a small grant is
  // admitted partly by the token and partly by the quota, and the limit holds exactly.
  test('a limit holds exactly over a burst that outruns its token\'s grant', async () => {
    const LIMIT = 12;
    const POLICY = JSON.stringify({ origins: [{ name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 1 }, limits: [{ name: 'echo', tool: 'echo', per_minute: LIMIT }] }] });
    const g = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key', KEY_TIERS: 'pro=1000/60', TOKEN_GRANT_REQUESTS: '2', POW_ADAPTIVE: 'false', POW_MIN_BITS: '8', POW_BASE_BITS: '8' } });
    try {
      const free = { 'x-api-key': testKey('runs-out') };
      const denied = await exhaust(g.mcpUrl, free);
      const token = await buyToken(g.url, denied, free);
      // The same client under a tier with room: what the token cannot pay, the quota takes.
      const pro = { 'x-api-key': testKey('runs-out', 'pro'), 'x-access-token': token };
      const used = 1; // the call that met the route's quota of 1 also met the limit
      const burst = await Promise.all(Array.from({ length: LIMIT - used }, (_, i) => post(g.mcpUrl, call(100 + i), pro)));
      const statuses = burst.map((r) => r.status);
      assert.deepEqual(tally(statuses), { 200: LIMIT - used }, `every call within the limit of ${LIMIT} is admitted once: ${JSON.stringify(tally(statuses))}`);
      const past = await post(g.mcpUrl, call(999), pro);
      assert.equal(past.status, 429, 'and the limit holds past it');
    } finally {
      await g.dispose();
    }
  });
});
