// MCP-aware policy end to end: two origins behind one gateway with different policies, per-tool
// limits and costs, batches, Mcp-Name checks, caller-bound sessions, in-band challenges for a
// stock SDK client, legacy 429s with a grace period, and the audit trail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startOrigin } from '../demo/origin.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { redeem, solve } from './support/pow-flow.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const rpc = (id, method, params) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
const INIT = (id = 0) => rpc(id, 'initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'policy-test', version: '1' } });
const remaining = (res) => Number(res.headers.get('ratelimit')?.match(/;r=(\d+)/)?.[1]);

function policy(files, search) {
  return JSON.stringify({ origins: [
    {
      name: 'files', prefix: '/files', url: files.url,
      quota: { per_minute: 40 },
      costs: [{ tool: 'progress', weight: 5 }, { method: 'notifications/*', weight: 0 }],
      limits: [{ name: 'heavy', tool: 'progress', per_minute: 2 }],
      in_band: true,
    },
    {
      name: 'search', prefix: '/search', url: search.url,
      quota: { per_minute: 3 },
      offers: ['pow'],
      legacy: { user_agents: ['LegacyAgent/*'] },
    },
    { name: 'search-host', host: 'search.example', url: search.url, quota: { per_minute: 100 } },
    { name: 'fresh', prefix: '/fresh', url: search.url, quota: { per_minute: 1 }, legacy: { grace_seconds: 600 } },
  ] });
}

describe('one gateway, two origins, MCP-aware policy', () => {
  let files, search, gateway;
  const searchSeen = [];
  before(async () => {
    files = await startOrigin();
    search = await startOrigin({ onRequest: (r) => searchSeen.push(r) });
    gateway = await startGateway({ originUrl: files.url, vars: { POLICY: policy(files, search), RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await files?.close();
    await search?.close();
  });

  test('an unknown route is a JSON 404', async () => {
    const res = await fetch(`${gateway.url}/elsewhere/mcp`, { method: 'POST', headers: MCP, body: INIT() });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error, 'not_found');
  });

  test('two origins keep their own policies', async () => {
    const key = { 'x-api-key': testKey('two-origins') };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${gateway.url}/search/mcp`, { method: 'POST', headers: { ...MCP, ...key }, body: INIT(i) })).status);
    assert.deepEqual(statuses, [200, 200, 200, 402], '/search allows 3 a minute');
    const other = await fetch(`${gateway.url}/files/mcp`, { method: 'POST', headers: { ...MCP, ...key }, body: INIT() });
    assert.equal(other.status, 200, '/files has its own quota');
    assert.equal(other.headers.get('ratelimit-policy'), '"minute";q=40;w=60');
    assert.ok(searchSeen.some((r) => r.url === '/mcp'), 'the prefix is replaced by the origin\'s path');
  });

  test('a host route reaches its origin', async () => {
    const status = await new Promise((resolve, reject) => {
      const req = http.request(`${gateway.url}/mcp`, { method: 'POST', headers: { ...MCP, host: 'search.example', 'x-api-key': testKey('by-host') } }, (res) => { res.resume(); resolve([res.statusCode, res.headers['ratelimit-policy']]); });
      req.on('error', reject);
      req.end(INIT());
    });
    assert.deepEqual(status, [200, '"minute";q=100;w=60']);
  });

  test('a heavy tool exhausts its own limit before a cheap one with a 429, since paying cannot lift a limit', async () => {
    const fetch402 = (url, init) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), 'gatehouse-accept': '402' } });
    const { client, close } = await connect(`${gateway.url}/files/mcp`, { fetch: fetch402, headers: { 'x-api-key': testKey('heavy') } });
    await client.callTool({ name: 'progress', arguments: { steps: 1, interval_ms: 0 } });
    await client.callTool({ name: 'progress', arguments: { steps: 1, interval_ms: 0 } });
    await assert.rejects(client.callTool({ name: 'progress', arguments: { steps: 1, interval_ms: 0 } }), (e) => e.code === 429 && /rate_limited/.test(e.message));
    const r = await client.callTool({ name: 'echo', arguments: { message: 'still cheap' } });
    assert.equal(r.content[0].text, 'still cheap');
    await close();
  });

  test('a batch (2025-03-26) counts each call', async () => {
    const key = { 'x-api-key': testKey('batch'), 'mcp-protocol-version': '2025-03-26' };
    const init = await fetch(`${gateway.url}/files/mcp`, { method: 'POST', headers: { ...MCP, ...key }, body: INIT() });
    const session = init.headers.get('mcp-session-id');
    const withSession = { ...MCP, ...key, 'mcp-session-id': session };
    const list = await fetch(`${gateway.url}/files/mcp`, { method: 'POST', headers: withSession, body: rpc(1, 'tools/list') });
    const before = remaining(list);
    const batch = JSON.stringify([1, 2, 3].map((i) => JSON.parse(rpc(10 + i, 'tools/call', { name: 'echo', arguments: { message: `b${i}` } }))));
    const res = await fetch(`${gateway.url}/files/mcp`, { method: 'POST', headers: withSession, body: batch });
    assert.equal(res.status, 200);
    assert.equal(remaining(res), before - 3);
  });

  test('an Mcp-Name that disagrees with the body is a 400 with JSON-RPC error -32020', async () => {
    const res = await fetch(`${gateway.url}/files/mcp`, {
      method: 'POST',
      headers: { ...MCP, 'x-api-key': testKey('liar'), 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      body: rpc(5, 'tools/call', { name: 'progress', arguments: {} }),
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual([body.id, body.error.code], [5, -32020]);
  });

  test('a session id presented by another caller is unknown (404)', async () => {
    const alice = await fetch(`${gateway.url}/files/mcp`, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('alice') }, body: INIT() });
    const session = alice.headers.get('mcp-session-id');
    const list = (who) => fetch(`${gateway.url}/files/mcp`, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey(who), 'mcp-session-id': session, 'mcp-protocol-version': '2025-03-26' }, body: rpc(2, 'tools/list') });
    assert.equal((await list('alice')).status, 200);
    const stolen = await list('mallory');
    assert.equal(stolen.status, 404);
    assert.equal((await stolen.json()).error.code, -32001);
  });

  test('a stock SDK client gets the challenge in-band as a tool result, and hands the token back in _meta', async () => {
    const { client, close } = await connect(`${gateway.url}/files/mcp`, { headers: { 'x-api-key': testKey('stock') } });
    let refused;
    for (let i = 0; i < 60 && !refused; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
      if (r.isError) refused = r;
    }
    assert.ok(refused, 'no call was refused');
    // x402's MCP transport: PaymentRequired in structuredContent and, wrapped, in content[0].
    const required = refused.structuredContent;
    assert.equal(required.x402Version, 2);
    assert.deepEqual(JSON.parse(refused.content[0].text)['x402/error'].data, required);
    assert.match(refused.content[1].text, /quota/);
    const c = required.challenges.find((x) => x.type === 'pow');
    const { status, body } = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, { 'x-api-key': testKey('stock'), 'user-agent': 'node' });
    assert.equal(status, 200);
    const r = await client.callTool({ name: 'echo', arguments: { message: 'paid' }, _meta: { 'gatehouse/access_token': body.access_token } });
    assert.equal(r.content[0].text, 'paid');
    // Any other request gets JSON-RPC error 402, a code no MCP revision reserves.
    let err;
    for (let i = 0; i < 60 && !err; i++) {
      try { await client.listTools(); } catch (e) { err = e; }
    }
    assert.ok(err instanceof McpError, `got ${err}`);
    assert.equal(err.code, 402);
    assert.equal(err.data.httpStatus, 402);
    await close();
  });

  test('a legacy user agent gets 429 with Retry-After and rate-limit headers instead of 402', async () => {
    const call = () => fetch(`${gateway.url}/search/mcp`, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('legacy'), 'user-agent': 'LegacyAgent/1.2' }, body: INIT() });
    for (let i = 0; i < 3; i++) assert.equal((await call()).status, 200);
    const res = await call();
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.match(res.headers.get('ratelimit'), /^"minute";r=0;t=\d+$/);
    assert.equal(res.headers.get('www-authenticate'), null);
  });

  test('a new client in its grace period sees 429 before 402', async () => {
    const call = () => fetch(`${gateway.url}/fresh/mcp`, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('newcomer') }, body: INIT() });
    assert.equal((await call()).status, 200);
    assert.equal((await call()).status, 429);
  });

  test('every tool call is in the audit trail, redacted, queryable by identity and tool', async () => {
    const { client, close } = await connect(`${gateway.url}/files/mcp`, { fetch: gatehouseFetch(), headers: { 'x-api-key': testKey('audited') } });
    await client.callTool({ name: 'echo', arguments: { message: 'visible', password: 'hunter2' } });
    await close();
    let records = [];
    for (let i = 0; i < 20 && !records.length; i++) {
      const res = await fetch(`${gateway.url}/admin/api/audit?name=echo&limit=50`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } });
      records = (await res.json()).records.filter((r) => r.arguments.includes('visible'));
      if (!records.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(records.length, 1);
    const [rec] = records;
    assert.equal(rec.route, 'files');
    assert.equal(rec.status, 200);
    assert.equal(rec.admitted_by, 'quota');
    assert.equal(rec.identity, 'key:audited');
    assert.ok(rec.arguments.includes('[redacted]') && !rec.arguments.includes('hunter2'), rec.arguments);
    assert.ok(rec.latency_ms >= 0);
    const byIdentity = await (await fetch(`${gateway.url}/admin/api/audit?identity=${encodeURIComponent(rec.identity)}`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } })).json();
    assert.ok(byIdentity.records.every((r) => r.identity === rec.identity));
    const audit = (name) => fetch(`${gateway.url}/admin/api/audit?name=${name}&limit=100`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } }).then((r) => r.json());
    assert.ok((await audit('echo')).records.some((r) => r.challenge === 'challenge_in_band' && r.status === 200), 'the in-band challenge is recorded');
    assert.ok((await audit('progress')).records.some((r) => r.challenge === 'rate_limited_429' && r.status === 429), "the limit's 429 is recorded");
  });
});
