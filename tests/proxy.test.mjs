// The gateway as a transparent MCP proxy: real workerd (Miniflare), the demo origin on the
// official SDK, and the official SDK client connected through the gateway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startOrigin } from '../demo/origin.mjs';
import { TEST_ADMIN_SECRET, startGateway } from './support/gateway.mjs';
import { LATE_MS, startOddOrigin } from './support/odd-origin.mjs';
import { laneCountingModules, laneCounts } from './support/lane-probe.mjs';
import { connect } from './support/mcp.mjs';

const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
const JSON_POST = { method: 'POST', headers: { 'content-type': 'application/json' }, body: PING };

describe('proxying MCP Streamable HTTP', () => {
  let origin, gateway;
  const seen = [];
  const events = [];

  before(async () => {
    origin = await startOrigin({ onRequest: (r) => seen.push(r), onEvent: (e) => events.push(e) });
    gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '10000' } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('initialize, tools/list and tools/call go through', async () => {
    const { client, close } = await connect(gateway.mcpUrl);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    assert.ok(tools.some((t) => t.name === 'progress'));
    const result = await client.callTool({ name: 'echo', arguments: { message: 'through the gate' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'through the gate' }]);
    assert.equal(client.getServerVersion().name, 'gatehouse-demo-origin');
    await close();
  });

  test('an SSE stream is passed event by event, not buffered', async () => {
    const { client, close } = await connect(gateway.mcpUrl);
    events.length = 0;
    let firstProgressAt;
    const result = await client.callTool(
      { name: 'progress', arguments: { steps: 5, interval_ms: 250 } },
      undefined,
      { onprogress: () => { firstProgressAt ??= performance.timeOrigin + performance.now(); } },
    );
    assert.equal(result.content[0].text, 'counted to 5');
    const sent = events.filter((e) => e.kind === 'progress_sent');
    assert.equal(sent.length, 5);
    assert.ok(firstProgressAt, 'the client saw progress');
    assert.ok(firstProgressAt < sent.at(-1).at, `first event reached the client ${Math.round(sent.at(-1).at - firstProgressAt)} ms before the origin sent the last`);
    await close();
  });

  test('the session id is carried both ways, bound to the caller, and DELETE ends the session', async () => {
    const { client, transport, close } = await connect(gateway.mcpUrl);
    const sid = transport.sessionId;
    assert.ok(sid, 'the client got a session id through the gateway');
    const originSid = sid.slice(sid.indexOf('.') + 1);
    assert.notEqual(sid, originSid, 'the client holds the gateway\'s caller-bound wrapping');
    assert.ok(origin.sessions.has(originSid), 'around the origin\'s own session id');
    await client.listTools();
    const last = seen.filter((r) => r.method === 'POST').at(-1);
    assert.equal(last.headers['mcp-session-id'], originSid, 'the origin sees only its own id');
    assert.ok(last.headers['mcp-protocol-version'], 'MCP-Protocol-Version reaches the origin');
    await transport.terminateSession();
    assert.equal(seen.at(-1).method, 'DELETE');
    assert.ok(!origin.sessions.has(originSid), 'the origin ended the session');
    await close();
  });

  test('the client\'s Authorization never reaches the origin', async () => {
    seen.length = 0;
    const { client, close } = await connect(gateway.mcpUrl, { headers: { authorization: 'Bearer client-secret-token' } });
    await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    await close();
    assert.ok(seen.length >= 3);
    for (const r of seen) {
      assert.equal(r.headers.authorization, undefined);
      assert.ok(!JSON.stringify(r.headers).includes('client-secret-token'));
    }
  });

  test('the scheduled handler purges what has expired and keeps the rest', async () => {
    const now = Date.now();
    const revoked = (jti, expires) => gateway.db.prepare('INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3)').bind(jti, expires, now).run();
    await revoked('long-expired', now - 3_600_000);
    await revoked('still-live', now + 3_600_000);
    const worker = await gateway.mf.getWorker();
    await worker.scheduled({ cron: '*/15 * * * *', scheduledTime: new Date(now) });
    const { results } = await gateway.db.prepare('SELECT jti FROM revoked_tokens ORDER BY jti').all();
    assert.deepEqual(results.map((r) => r.jti), ['still-live']);
  });

  test('every proxied response carries the rate-limit headers', async () => {
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: PING });
    assert.equal(res.headers.get('ratelimit-policy'), '"minute";q=10000;w=60');
    assert.match(res.headers.get('ratelimit'), /^"minute";r=\d+;t=\d+$/);
  });
});

describe('headers, credentials and redirects', () => {
  let odd, gateway;
  before(async () => {
    odd = await startOddOrigin();
    gateway = await startGateway({ originUrl: odd.url, vars: { ORIGIN_AUTH_HEADER: 'x-origin-key', ORIGIN_AUTH_VALUE: 'origin-credential' } });
  });
  after(async () => {
    await gateway?.dispose();
    await odd?.close();
  });

  // node:http rather than fetch: fetch will not send Connection or arbitrary hop-by-hop fields.
  const CALL = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}';
  // `streamed`: the body chunked, with no length, which the quick lane never takes: the async path.
  const raw = (path, headers, { streamed = false } = {}) => new Promise((resolve, reject) => {
    const framing = streamed ? { 'transfer-encoding': 'chunked' } : {};
    const req = http.request(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...framing, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (streamed) req.write(CALL);
    req.end(streamed ? undefined : CALL);
  });
  /** What the client gets of the origin's fields: the origin's own, less what only the gateway
   * may say and what its Connection names (in mixed case: odd-origin.mjs). */
  const assertAnswerHeaders = (res) => {
    assert.equal(res.headers['x-origin-hop'], undefined, 'a field the origin named in Connection stops at the gateway');
    assert.equal(res.headers['x-origin-ok'], 'yes');
    for (const name of ['payment-receipt', 'gatehouse-challenge', 'x-ratelimit-remaining']) assert.equal(res.headers[name], undefined, `the origin's ${name}`);
    assert.match(res.headers.ratelimit, /^"minute";r=\d+;t=\d+$/, 'the gateway\'s own RateLimit, not the origin\'s');
  };

  test('MCP headers pass unchanged, hop-by-hop and gateway credentials do not', async () => {
    const res = await raw('/mcp?x=1', {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
      'last-event-id': 'ev-9',
      connection: 'x-client-hop',
      'x-client-hop': 'drop-me',
      // The gateway's own fields, in the case a hostile client picks (node:http sends names as
      // written): dropped whatever their case.
      'X-Access-Token': '',
      Authorization: 'Bearer client-token',
      'X-Payment': 'forged',
      'X-HTTP-Method-Override': 'DELETE',
      'Gatehouse-Time-Budget': '1',
    });
    const echoed = JSON.parse(res.body);
    assert.equal(echoed.url, '/mcp?x=1');
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.body, CALL);
    for (const [k, v] of Object.entries({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo', 'last-event-id': 'ev-9' })) {
      assert.equal(echoed.headers[k], v, k);
    }
    assert.equal(echoed.headers['x-client-hop'], undefined);
    assert.equal(echoed.headers.authorization, undefined);
    assert.equal(echoed.headers['x-access-token'], undefined);
    for (const name of ['x-payment', 'x-http-method-override', 'gatehouse-time-budget']) assert.equal(echoed.headers[name], undefined, name);
    assert.equal(echoed.headers['x-origin-key'], 'origin-credential', 'the origin credential comes from the secret');
    assertAnswerHeaders(res);
  });

  test('the async path answers with the same fields', async () => {
    const res = await raw('/mcp', {}, { streamed: true });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).body, CALL, 'the streamed body reached the origin whole');
    assertAnswerHeaders(res);
  });

  test('a client cannot forge the origin credential, nor have the gateway drop it through Connection', async () => {
    const res = await raw('/mcp', { 'x-origin-key': 'forged-by-client', connection: 'x-origin-key, mcp-session-id' });
    const echoed = JSON.parse(res.body);
    assert.equal(echoed.headers['x-origin-key'], 'origin-credential');
  });

  test('redirects from the origin are returned, not followed', async () => {
    const res = await fetch(`${gateway.url}/redirect`, { ...JSON_POST, redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), 'http://127.0.0.1:1/elsewhere');
  });
});

describe('origin and configuration failures', () => {
  test('a dead origin is a 502 with a JSON error', async () => {
    const odd = await startOddOrigin();
    const deadUrl = odd.url;
    await odd.close();
    const gateway = await startGateway({ originUrl: deadUrl });
    try {
      const res = await fetch(`${gateway.url}/mcp`, JSON_POST);
      assert.equal(res.status, 502);
      assert.equal((await res.json()).error, 'origin_unreachable');
    } finally {
      await gateway.dispose();
    }
  });

  test('a hung origin is a 504 after the configured timeout, and its connection is let go', async () => {
    const odd = await startOddOrigin();
    const gateway = await startGateway({ originUrl: odd.url, vars: { ORIGIN_TIMEOUT_MS: '300' }, workerOverrides: { modules: laneCountingModules() } });
    // A tool call, which the audit records.
    const CALL_POST = { ...JSON_POST, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }) };
    try {
      // A new client's first request asks its counter for a lease (the async path); the next
      // ones are the quick lane's. Both let the origin's connection go once the request is over,
      // with no abort: its context ends after the 504 and the request's own background tasks.
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${gateway.url}/hang`, CALL_POST);
        assert.equal(res.status, 504);
        assert.equal((await res.json()).error, 'origin_timeout');
      }
      const ways = await laneCounts(gateway.url);
      assert.ok(ways.planned >= 1 && ways.slow >= 1, `lane ${ways.planned}, async ${ways.slow}`);
      assert.equal(odd.hung(), 3, 'every request reached the origin');
      for (let waited = 0; odd.hanging() > 0 && waited < 15_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      assert.equal(odd.hanging(), 0, 'every hung request\'s connection is closed');
      // An answer that comes after the deadline is never relayed, nor recorded beside the 504:
      // twice on the lane, then streamed (no length), which only the async path reads.
      const before = await laneCounts(gateway.url);
      for (let i = 0; i < 2; i++) assert.equal((await fetch(`${gateway.url}/late`, CALL_POST)).status, 504);
      const streamed = await fetch(`${gateway.url}/late`, {
        ...CALL_POST,
        body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(CALL_POST.body)); c.close(); } }),
        duplex: 'half',
      });
      assert.equal(streamed.status, 504);
      assert.equal((await streamed.json()).error, 'origin_timeout');
      const after = await laneCounts(gateway.url);
      const judged = after.planned + after.slow - before.planned - before.slow;
      assert.equal(judged, 2, 'the lane judged the two with a length, and never saw the streamed one');
      assert.equal(odd.late(), 3, 'every late request reached the origin');
      await new Promise((r) => setTimeout(r, LATE_MS + 500));
      assert.equal((await fetch(`${gateway.url}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } })).status, 200);
      const statuses = (await gateway.db.prepare('SELECT status FROM audit ORDER BY id').all()).results.map((r) => r.status);
      assert.deepEqual(statuses, [504, 504, 504, 504, 504, 504]);
    } finally {
      await gateway.dispose();
      await odd.close();
    }
  });

  test('a misconfigured gateway fails closed with 503 gateway_misconfigured', async () => {
    for (const vars of [
      { ORIGIN_URL: 'http://169.254.169.254' },
      { ORIGIN_URL: 'https://mcp.example.com', TOKEN_SIGNING_KEYS: 'k1:short' },
      { ORIGIN_URL: 'http://127.0.0.1:9', LOCAL_DEV: 'false' },
    ]) {
      const gateway = await startGateway({ vars });
      try {
        const res = await fetch(`${gateway.url}/mcp`, { method: 'POST', body: '{}' });
        assert.equal(res.status, 503, JSON.stringify(vars));
        assert.equal((await res.json()).error, 'gateway_misconfigured');
      } finally {
        await gateway.dispose();
      }
    }
  });
});
