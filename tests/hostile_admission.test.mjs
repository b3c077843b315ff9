// Attacks on admission and payments, run against the built gateway in workerd (real D1, real
// Durable Objects, real LNbits, the official MCP SDK as the origin where its reading matters).
// docs/threat-model.md: per-call accounting on every path, one grant per payment, one reading of
// every body.
//
// Each test is a way a hostile client got more than it paid for, got in sideways, or made a
// payment lost, in an earlier version; each now asserts the refusal. Tests marked "(held)" are
// attacks that were refused from the start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { startLnbits } from '../demo/lnbits.mjs';
import { startOrigin } from '../demo/origin.mjs';
import { L402_ROOT_KEY, batch, buyToken, call, exhaust, post, remainingOf, send, sleep, tally } from './support/attack.mjs';
import { COMPATIBILITY, DURABLE_OBJECTS, ROOT, TEST_ADMIN_SECRET, TEST_SIGNING_KEYS, freePort, gatewayModules, migrationStatements, startGateway, testKey } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';

let ln;
before(async () => { ln = await startLnbits(); });
after(() => ln?.stop());
const l402Vars = () => ({ L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY });

describe('a spent token stays spent in every isolate', () => {
  // Two isolates of one deployment: the same persisted D1 and Durable Objects, the same URL (the
  // token's audience), started one after the other. The second knows nothing of the token.
  let origin, port, dir;
  before(async () => {
    origin = await startRecordingOrigin();
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-attack1-'));
  });
  after(async () => { await origin?.close(); });

  async function isolate() {
    const mf = new Miniflare(convertV4MiniflareOptions({
      host: '127.0.0.1', port, cf: false, resourcePersistencePath: dir,
      workers: [{
        name: 'gatehouse',
        modulesRoot: join(ROOT, 'build'),
        modules: gatewayModules(join(ROOT, 'build')),
        ...COMPATIBILITY,
        durableObjects: DURABLE_OBJECTS,
        d1Databases: { DB: 'gatehouse-attack1' },
        bindings: {
          ORIGIN_URL: origin.url, LOCAL_DEV: 'true', TOKEN_SIGNING_KEYS: TEST_SIGNING_KEYS, ADMIN_SECRET: TEST_ADMIN_SECRET,
          RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '10', POW_ADAPTIVE: 'false', POW_MIN_BITS: '8', POW_BASE_BITS: '8', IN_BAND_CHALLENGES: 'false',
        },
      }],
    }));
    const url = (await mf.ready).origin;
    return { mf, url, mcpUrl: `${url}/mcp`, db: await mf.getD1Database('DB') };
  }

  test('a grant of 10 spent in one isolate admits nothing in fresh ones', async () => {
    const me = { 'x-api-key': testKey('roamer') };
    let g = await isolate();
    for (const s of migrationStatements()) await g.db.prepare(s).run().catch(() => {});
    const token = await buyToken(g.url, await exhaust(g.mcpUrl, me), me);
    const first = await post(g.mcpUrl, batch(10), { ...me, 'x-access-token': token });
    assert.equal(first.status, 200);
    assert.equal(remainingOf(first), 0);
    assert.equal((await post(g.mcpUrl, call(11), { ...me, 'x-access-token': token })).status, 402, 'spent, as far as this isolate knows');
    await sleep(300); // the last report lands in the token's counter
    await g.mf.dispose();

    const executedBefore = origin.calls().length;
    const statuses = [];
    for (let k = 0; k < 3; k++) {
      g = await isolate();
      statuses.push((await post(g.mcpUrl, batch(10), { ...me, 'x-access-token': token })).status);
      await sleep(300);
      // The counter answers the report with the shared total: this isolate now knows it is spent.
      statuses.push((await post(g.mcpUrl, call(1), { ...me, 'x-access-token': token })).status);
      await g.mf.dispose();
    }
    const executed = origin.calls().length - executedBefore;
    console.log(`fresh isolates: ${statuses.join(',')}; the origin executed ${executed} more calls on a spent grant of 10`);
    assert.equal(executed, 0, 'a spent grant admits nothing, in any isolate');
  });
});

describe('a token pays on the route that sold it, and no other', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    const POLICY = JSON.stringify({ origins: [
      { name: 'free', prefix: '/free', url: origin.url, quota: { per_minute: 1 }, offers: ['pow'] },
      { name: 'paid', prefix: '/paid', url: origin.url, quota: { per_minute: 1 }, offers: ['l402'] },
    ] });
    gateway = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', TOKEN_GRANT_REQUESTS: '20', ...l402Vars() } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('a proof-of-work token does not open a route that sells access only for Lightning payments', async () => {
    const me = { 'x-api-key': testKey('route-hopper') };
    const paid = await exhaust(`${gateway.url}/paid/mcp`, me);
    assert.deepEqual(paid.body.challenges.map((c) => c.type), ['l402'], 'the paid route asks for sats');
    const token = await buyToken(gateway.url, await exhaust(`${gateway.url}/free/mcp`, me), me);
    const before = origin.seen.length;
    const r = await post(`${gateway.url}/paid/mcp`, call(1), { ...me, 'x-access-token': token });
    console.log(`paid route with the free route's proof-of-work token: ${r.status} ${r.headers.get('ratelimit')}`);
    assert.notEqual(r.status, 200, 'a token from a free puzzle does not pay for the Lightning-only route');
    assert.equal(origin.seen.length, before);
  });
});

describe('resource rules are matched on the URI the origin reads', () => {
  let origin, gateway, session;
  before(async () => {
    origin = await startOrigin();
    const POLICY = JSON.stringify({ origins: [{
      name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 100 }, in_band: false,
      costs: [{ resource: 'test://static-text', weight: 50 }],
      limits: [{ name: 'test-resources', resource: 'test://*', per_minute: 1 }],
    }] });
    gateway = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key' } });
    const me = { 'x-api-key': testKey('uri-speller') };
    const init = await post(gateway.mcpUrl, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attack1', version: '1' } } }, me);
    session = { ...me, 'mcp-session-id': init.headers.get('mcp-session-id') };
    await post(gateway.mcpUrl, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  const read = (uri) => post(gateway.mcpUrl, { jsonrpc: '2.0', id: 5, method: 'resources/read', params: { uri } }, session);

  test('TEST://, a leading space or a trailing newline cannot read the limited, weight-50 resource for 1 unit', async () => {
    const exact = await read('test://static-text');
    assert.equal(exact.status, 200);
    assert.equal(remainingOf(exact), 0, 'the limit (1 per minute) is spent');
    const served = [];
    for (const uri of ['TEST://static-text', ' test://static-text', 'Test://static-text\n', 'TEST://template/8/data']) {
      const r = await read(uri);
      if (r.status === 200 && r.body?.result?.contents) served.push(`${JSON.stringify(uri)} -> ${r.headers.get('ratelimit')}`);
    }
    console.log(`served past the limit: ${served.join('; ')}`);
    assert.deepEqual(served, [], 'each spelling of a limited resource meets its limit');
  });
});

describe('bodies on methods other than POST', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '100', MAX_BATCH_CALLS: '4' } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('PUT, PATCH, DELETE, OPTIONS and REPORT cannot carry a 500-call batch to the origin unread', async () => {
    const me = { 'x-api-key': testKey('non-poster') };
    const through = [];
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'REPORT']) {
      const before = origin.seen.length;
      const r = await send(gateway.mcpUrl, method, batch(500), me);
      const seen = origin.seen.slice(before).find((s) => Array.isArray(s.parsed));
      if (seen) through.push(`${method}: ${r.status}, origin got ${seen.parsed.length} calls, ${r.headers.get('ratelimit')}`);
    }
    console.log(through.join('\n'));
    assert.deepEqual(through, [], 'no body reaches the origin unread (MAX_BATCH_CALLS is 4)');
  });

  test('a GET body is dropped, and PROPFIND goes on as a bodiless GET (held)', async () => {
    const me = { 'x-api-key': testKey('getter') };
    const u = new URL(gateway.mcpUrl);
    const body = JSON.stringify(batch(3));
    const before = origin.seen.length;
    const status = await new Promise((resolve, reject) => {
      const r = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', headers: { ...me, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      r.on('error', reject);
      r.end(body);
    });
    assert.equal(status, 200);
    await send(gateway.mcpUrl, 'PROPFIND', batch(3), me);
    assert.ok(origin.seen.slice(before).every((s) => s.raw === '' && s.method === 'GET'), JSON.stringify(origin.seen.slice(before).map((s) => s.method)));
  });
});

describe('a payment survives a counter failing after redemption', () => {
  let origin, gateway;
  // A Durable Object namespace that forwards to the real counters but fails `/forget`, the last
  // step of a redemption.
  const FLAKY = `export class Flaky {
    constructor(state, env) { this.state = state; this.env = env; }
    async fetch(req) {
      if (new URL(req.url).pathname === '/forget') return new Response('injected', { status: 500 });
      return this.env.REAL.get(this.env.REAL.idFromName(this.state.id.toString())).fetch(req);
    }
  }
  export default { fetch() { return new Response('flaky'); } };`;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({
      originUrl: origin.url,
      vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '1', POW_ADAPTIVE: 'false', CHALLENGE_OFFERS: 'l402,pow', ...l402Vars() },
      // REAL only defines the namespace of the real counters, in the gateway's own script.
      workerOverrides: { durableObjects: { ...DURABLE_OBJECTS, COUNTERS: { className: 'Flaky', scriptName: 'flaky', useSQLite: true }, REAL: { className: 'GateCounter', useSQLite: true } } },
      extraWorkers: [{
        name: 'flaky', modules: true, script: FLAKY, compatibilityDate: '2026-11-01',
        durableObjects: { FLAKY: { className: 'Flaky', useSQLite: true }, REAL: { className: 'GateCounter', scriptName: 'gatehouse', useSQLite: true } },
      }],
    });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('a redemption whose offer bookkeeping fails still delivers the token, and the payment buys one grant', async () => {
    const me = { 'x-api-key': testKey('unlucky') };
    const offer = (await exhaust(gateway.mcpUrl, me)).body.challenges.find((c) => c.type === 'l402');
    const preimage = await ln.pay(offer.invoice);
    const redeem = () => post(offer.verify_url, { challenge_id: offer.challenge_id, payment_proof: { preimage } }, me);
    const first = await redeem();
    assert.equal(first.status, 200, 'forgetting the outstanding offer is best effort, after the challenge is spent');
    assert.ok(first.body.access_token);
    const retried = await redeem();
    const asCredential = await post(gateway.mcpUrl, call(1), { authorization: `L402 ${offer.macaroon}:${preimage}` });
    console.log(`paid ${offer.amount_sats} sats; redemption ${first.status}, retry ${retried.status} ${retried.body?.error}, credential ${asCredential.status}`);
    assert.equal(retried.status, 409, 'one payment, one grant');
    assert.equal(asCredential.status, 401, 'one payment, one grant');
  });
});

describe('zero-weight calls are free against the quota, never unlimited', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    // The example weights of docs/policy.md.
    const POLICY = JSON.stringify({ origins: [{ name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 2 }, costs: [{ method: '*/list', weight: 0 }, { method: 'ping', weight: 0 }] }] });
    gateway = await startGateway({ originUrl: origin.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key', MAX_BATCH_CALLS: '64', CALL_CEILING_PER_MINUTE: '128' } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('an exhausted client cannot drive the origin without bound with batches of lists: the call ceiling holds', async () => {
    const me = { 'x-api-key': testKey('freeloader') };
    await exhaust(gateway.mcpUrl, me);
    const lists = Array.from({ length: 64 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: ['tools/list', 'resources/list', 'prompts/list', 'resources/templates/list'][i % 4] }));
    const before = origin.calls().length;
    const statuses = [];
    for (let i = 0; i < 50; i++) statuses.push((await post(gateway.mcpUrl, lists, me)).status);
    const executed = origin.calls().length - before;
    console.log(`exhausted client, 50 batches of 64 zero-weight calls: ${JSON.stringify(tally(statuses))}, origin executed ${executed}`);
    assert.ok(executed <= 64 * 2, `${executed} origin calls past an exhausted quota`);
  });

  test('responses and notifications cost a unit each (held)', async () => {
    const me = { 'x-api-key': testKey('responder') };
    const r = await post(gateway.mcpUrl, [{ jsonrpc: '2.0', id: 'x', result: {} }, { jsonrpc: '2.0', method: 'tools/call', params: { name: 'echo' } }], me);
    assert.equal(r.status, 200);
    assert.equal(remainingOf(r), 0);
    assert.equal((await post(gateway.mcpUrl, { jsonrpc: '2.0', id: 'y', result: {} }, me)).status, 402);
  });
});
