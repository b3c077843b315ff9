// The quick lane (src/entry.mjs, src/routes/gate/quick.rs) against the built gateway: requests the
// gate's synchronous steps take whole, and everything that must go the async way. A probe
// stands in front of the bundle and counts what `quick_plan` decided (`planned`: sent on or
// refused there; `slow`: handed to the async path), so that every test says which way its
// requests went as well as what the client and the origin saw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { MCP_HEADERS, buyToken, call, exhaust, post } from './support/attack.mjs';
import { TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { laneCountingModules, laneCounts } from './support/lane-probe.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';

async function gateway(originUrl, vars = {}) {
  const g = await startGateway({ originUrl, vars: { RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', ...vars }, workerOverrides: { modules: laneCountingModules() } });
  return { ...g, lane: () => laneCounts(g.url) };
}

/** `body` posted without a length, as a stream: a request only the async path reads. */
const streamed = (url, body, headers) => fetch(url, {
  method: 'POST',
  headers: { ...MCP_HEADERS, ...headers },
  body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(JSON.stringify(body))); c.close(); } }),
  duplex: 'half',
});

/** What the lane decided over `fn`. */
async function counted(g, fn) {
  const before = await g.lane();
  await fn();
  const now = await g.lane();
  return { planned: now.planned - before.planned, slow: now.slow - before.slow };
}

describe('the quick lane', () => {
  let origin;
  before(async () => { origin = await startRecordingOrigin(); });
  after(async () => { await origin?.close(); });

  test('a token holder is served by the lane once its lease is held, and the origin never sees its credentials', async () => {
    const g = await gateway(origin.url, { QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '40' });
    try {
      const me = { 'x-api-key': testKey('lane-token') };
      const token = await buyToken(g.url, await exhaust(g.mcpUrl, me), me);
      const from = origin.seen.length;
      const answers = [];
      const ways = await counted(g, async () => {
        for (let i = 0; i < 20; i++) answers.push(await post(g.mcpUrl, call(i), { ...me, 'x-access-token': token }));
      });
      assert.deepEqual(answers.map((a) => a.status), Array(20).fill(200));
      assert.ok(ways.planned >= 18, `lane ${ways.planned}, async ${ways.slow}`);
      const remaining = answers.map((a) => Number(a.headers.get('ratelimit')?.match(/;r=(\d+)/)?.[1]));
      for (let i = 1; i < remaining.length; i++) assert.equal(remaining[i], remaining[i - 1] - 1, 'the grant counts down by one per call, whichever way');
      const seen = origin.seen.slice(from);
      assert.equal(seen.length, 20);
      for (const [i, s] of seen.entries()) {
        assert.equal(s.headers['x-access-token'], undefined);
        assert.equal(s.headers['x-api-key'], undefined);
        assert.equal(s.raw, JSON.stringify(call(i)), 'the body as the client sent it');
      }
    } finally {
      await g.dispose();
    }
  });

  test('an in-band token is cut from the bytes on the lane too, and on the async path', async () => {
    const POLICY = JSON.stringify({ origins: [{ name: 'main', prefix: '/', url: origin.url, quota: { per_minute: 1 }, in_band: true }] });
    const g = await gateway(origin.url, { POLICY, TOKEN_GRANT_REQUESTS: '40' });
    try {
      const me = { 'x-api-key': testKey('lane-in-band') };
      const http402 = { ...me, 'gatehouse-accept': '402' };
      const token = await buyToken(g.url, await exhaust(g.mcpUrl, http402), me);
      const from = origin.seen.length;
      const withToken = (i) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `m${i}` }, _meta: { 'gatehouse/access_token': token } } });
      const ways = await counted(g, async () => {
        for (let i = 0; i < 10; i++) assert.equal((await post(g.mcpUrl, withToken(i), me)).status, 200);
      });
      assert.ok(ways.planned >= 8, `lane ${ways.planned}, async ${ways.slow}`);
      // Streamed (no length), which only the async path reads: it lets go of the parsed token once
      // admitted, and cuts it from the bytes alike.
      for (let i = 10; i < 12; i++) assert.equal((await streamed(g.mcpUrl, withToken(i), me)).status, 200);
      assert.equal(origin.seen.length - from, 12);
      assert.deepEqual(origin.seen.slice(from + 10).map((s) => s.parsed.params.arguments.message), ['m10', 'm11']);
      for (const s of origin.seen.slice(from)) {
        assert.ok(!s.raw.includes(token), 'the token never reaches the origin');
        assert.equal(s.parsed.params._meta?.['gatehouse/access_token'], undefined);
      }
    } finally {
      await g.dispose();
    }
  });

  test('a quota held in a lease is spent on the lane exactly, and its end is a 402 from the async path', async () => {
    const g = await gateway(origin.url, { QUOTA_PER_MINUTE: '30' });
    try {
      const me = { 'x-api-key': testKey('lane-quota') };
      const statuses = [];
      const ways = await counted(g, async () => {
        for (let i = 0; i < 40; i++) statuses.push((await post(g.mcpUrl, call(i), me)).status);
      });
      assert.deepEqual(statuses, [...Array(30).fill(200), ...Array(10).fill(402)]);
      // Leases grow with use (twice what the last one spent), so the counter is asked less and
      // less often; the denials are the counter's (or the isolate's memory of its last one).
      assert.ok(ways.planned >= 10, `lane ${ways.planned}, async ${ways.slow}`);
      assert.ok(ways.slow >= 11, 'the counter was asked, on the async path');
    } finally {
      await g.dispose();
    }
  });

  test('an over-quota burst is answered on the lane from the isolate\'s memory of its denial', async () => {
    // At the hardest puzzle there is, a denial is remembered (a harder one would reach the counter).
    const g = await gateway(origin.url, { QUOTA_PER_MINUTE: '5', POW_MIN_BITS: '8', POW_BASE_BITS: '8', POW_MAX_BITS: '8' });
    try {
      const me = { 'x-api-key': testKey('lane-burst') };
      for (let i = 0; i < 5; i++) assert.equal((await post(g.mcpUrl, call(i), me)).status, 200);
      const from = origin.seen.length;
      const denied = [];
      const ways = await counted(g, async () => {
        for (let i = 0; i < 20; i++) denied.push(await post(g.mcpUrl, call(i), me));
      });
      assert.deepEqual(denied.map((d) => d.status), Array(20).fill(402));
      for (const d of denied) assert.ok(d.body.challenges.some((c) => c.type === 'pow'), 'each with its challenges');
      assert.ok(ways.planned >= 15, `lane ${ways.planned}, async ${ways.slow}`);
      assert.equal(origin.seen.length, from);
    } finally {
      await g.dispose();
    }
  });

  test('refusals the lane reaches are the async path\'s, and are recorded', async () => {
    const g = await gateway(origin.url, { QUOTA_PER_MINUTE: '30' });
    try {
      const me = { 'x-api-key': testKey('lane-refused') };
      for (let i = 0; i < 3; i++) assert.equal((await post(g.mcpUrl, call(i), me)).status, 200);
      const from = origin.seen.length;
      let answers;
      const ways = await counted(g, async () => {
        answers = [
          await post(g.mcpUrl, call(1), { ...me, 'mcp-method': 'tools/list' }),
          await post(g.mcpUrl, call(2), { ...me, 'x-access-token': 'not.a.token' }),
          await post(g.mcpUrl, call(3), { ...me, 'mcp-session-id': 'forged' }),
          await post(g.mcpUrl, '{"jsonrpc":"2.0","id":1,"method":"tools/call","id":2}', me),
          await post(g.mcpUrl, call(4), { 'x-api-key': `${testKey('lane-refused')}x` }),
        ];
      });
      assert.deepEqual(answers.map((a) => a.status), [400, 401, 404, 400, 401]);
      assert.equal(ways.planned, 5, 'all five refused on the lane');
      assert.equal(origin.seen.length, from, 'none reached the origin');
      assert.equal((await fetch(`${g.url}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } })).status, 200);
      const rows = (await g.db.prepare("SELECT status FROM audit WHERE name = 'echo' AND status >= 400 ORDER BY id").all()).results;
      // Those whose calls were read (a forged token, a forged session, a forged key) are recorded
      // per call; a body refused before its calls are known has none to record.
      assert.deepEqual(rows.map((r) => r.status), [401, 404, 401]);
    } finally {
      await g.dispose();
    }
  });

  test('a header sent twice is judged as the runtime joins it, the value the origin would get', async () => {
    const g = await gateway(origin.url, { QUOTA_PER_MINUTE: '100' });
    try {
      const key = testKey('lane-twice');
      for (let i = 0; i < 3; i++) assert.equal((await post(g.mcpUrl, call(i), { 'x-api-key': key })).status, 200);
      const from = origin.seen.length;
      // Node's http client sends an array's values as separate header lines.
      const raw = (headers) => new Promise((resolve, reject) => {
        const body = JSON.stringify(call(9));
        const req = http.request(g.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
        req.on('error', reject);
        req.end(body);
      });
      let statuses;
      const ways = await counted(g, async () => {
        statuses = [
          await raw({ 'x-api-key': key, 'mcp-method': ['tools/call', 'tools/call'] }),
          await raw({ 'x-api-key': [key, key] }),
          await raw({ 'x-api-key': key, 'x-access-token': ['a', 'b'] }),
        ];
      });
      assert.deepEqual(statuses, [400, 401, 401]);
      assert.equal(ways.planned, 3, 'all three judged on the lane');
      assert.equal(origin.seen.length, from);
    } finally {
      await g.dispose();
    }
  });

  test('the gateway\'s own endpoints never have their bodies read by the lane', async () => {
    const g = await gateway(origin.url);
    try {
      const ways = await counted(g, async () => {
        const minted = await fetch(`${g.url}/admin/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'lane-admin' }) });
        assert.equal(minted.status, 201);
        const redeemed = await fetch(`${g.url}/api/verify-challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ challenge_id: 'nope', solution: { nonce: '0' } }) });
        assert.ok([400, 401, 404, 410].includes(redeemed.status), `redeem: ${redeemed.status}`);
      });
      assert.deepEqual(ways, { planned: 0, slow: 0 });
    } finally {
      await g.dispose();
    }
  });

  test('a request on the async path leaves the audit rows the lane leaves, made before its origin answers', async () => {
    const g = await gateway(origin.url, { QUOTA_PER_MINUTE: '100', AUDIT_REDACT_KEYS: 'secret', AUDIT_MAX_ARG_BYTES: '80' });
    try {
      const me = { 'x-api-key': testKey('lane-async-audit') };
      for (let i = 0; i < 20; i++) assert.equal((await post(g.mcpUrl, call(i), me)).status, 200);
      const sent = (id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `m${id}`, secret: 'hidden', tail: 'x'.repeat(300) } } });
      const bodies = [sent(1), [sent(2), sent(3)]];
      // Each body twice: with a length, which the lane takes, and streamed without one, which
      // only the async path reads.
      const ways = await counted(g, async () => {
        for (const body of bodies) {
          assert.equal((await post(g.mcpUrl, body, me)).status, 200);
          assert.equal((await streamed(g.mcpUrl, body, me)).status, 200);
        }
      });
      assert.equal(ways.planned, 2, `lane ${ways.planned}, async ${ways.slow}`);
      assert.equal((await fetch(`${g.url}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } })).status, 200);
      const rows = (await g.db.prepare("SELECT method, name, arguments, status, admitted_by, remaining FROM audit WHERE identity = 'key:lane-async-audit' ORDER BY id").all()).results.slice(20);
      const shape = ({ remaining, ...rest }) => rest;
      // In order: body 1 on the lane, then on the async path; body 2's two calls on each.
      assert.equal(rows.length, 6);
      assert.deepEqual(rows.map(shape), [rows[0], rows[0], rows[2], rows[3], rows[2], rows[3]].map(shape));
      // Redacted and cut as the audit's settings say, on both paths.
      for (const [row, id] of [[rows[1], 1], [rows[5], 3]]) {
        assert.match(row.arguments, new RegExp(`^\\{"message":"m${id}","secret":"[^"]*","tail":"x+`));
        assert.ok(!row.arguments.includes('hidden'), row.arguments);
        assert.ok(row.arguments.length < 120, row.arguments);
      }
    } finally {
      await g.dispose();
    }
  });

  test('an origin that fails is a 502 or a 504 on the lane and the async path, recorded alike, and a session id crosses wrapped both ways', async () => {
    let mode = 'session';
    const seenSessions = [];
    const odd = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seenSessions.push(req.headers['mcp-session-id']);
        if (mode === 'hang') return;
        if (mode === 'drop') return req.socket.destroy();
        if (mode === 'refuse') {
          res.writeHead(400, { 'content-type': 'application/json' });
          return res.end('{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"no"}}');
        }
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'origin-session-1', 'retry-after': '9' });
        res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
      });
    });
    await new Promise((r) => odd.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${odd.address().port}`;
    const g = await gateway(url, { QUOTA_PER_MINUTE: '100', ORIGIN_TIMEOUT_MS: '500' });
    try {
      const me = { 'x-api-key': testKey('lane-origin') };
      // Until its leases have grown, a client's counter is asked every few requests.
      for (let i = 0; i < 20; i++) assert.equal((await post(g.mcpUrl, call(1), me)).status, 200);
      const warm = seenSessions.length;
      let wrapped;
      const ways = await counted(g, async () => {
        const r = await post(g.mcpUrl, call(2), me);
        wrapped = r.headers.get('mcp-session-id');
        assert.equal(r.headers.get('retry-after'), null, 'the origin\'s Retry-After on a 200 is dropped');
        assert.equal((await post(g.mcpUrl, call(3), { ...me, 'mcp-session-id': wrapped })).status, 200);
        // The audit's two shapes, decided once the origin's status is in: a row per call for an
        // answered batch, one row for a batch refused before its calls ran.
        assert.equal((await post(g.mcpUrl, [call(31), call(32), call(33)], me)).status, 200);
        // Each failure on the lane, then on the async path (streamed), which records it alike.
        mode = 'refuse';
        assert.equal((await post(g.mcpUrl, [call(41), call(42), call(43)], me)).status, 400);
        assert.equal((await streamed(g.mcpUrl, [call(44), call(45), call(46)], me)).status, 400);
        mode = 'drop';
        assert.equal((await post(g.mcpUrl, call(4), me)).status, 502);
        assert.equal((await streamed(g.mcpUrl, call(6), me)).status, 502);
        mode = 'hang';
        assert.equal((await post(g.mcpUrl, call(5), me)).status, 504);
        assert.equal((await streamed(g.mcpUrl, call(7), me)).status, 504);
      });
      assert.ok(wrapped && wrapped !== 'origin-session-1', 'the client holds a wrapping of the origin\'s id');
      assert.equal(seenSessions[warm + 1], 'origin-session-1', 'the origin gets its own id back');
      assert.equal(ways.planned, 6, `lane ${ways.planned}, async ${ways.slow}`);
      assert.equal((await fetch(`${g.url}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } })).status, 200);
      const rows = (await g.db.prepare("SELECT status, arguments FROM audit WHERE identity = 'key:lane-origin' ORDER BY id").all()).results
        .map((r) => [r.status, JSON.parse(r.arguments)])
        .filter(([status, args]) => status !== 200 || ['m31', 'm32', 'm33'].includes(args.message));
      assert.deepEqual(rows, [
        [200, { message: 'm31' }], [200, { message: 'm32' }], [200, { message: 'm33' }],
        [400, { calls: 3 }], [400, { calls: 3 }],
        [502, { message: 'm4' }], [502, { message: 'm6' }],
        [504, { message: 'm5' }], [504, { message: 'm7' }],
      ]);
    } finally {
      await g.dispose();
      odd.closeAllConnections?.();
      await new Promise((r) => odd.close(r));
    }
  });
});
