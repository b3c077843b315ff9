// What a caller sends must not decide what the audit trail and the metrics cost: batches of
// hundreds of distinct, long tool names from clients that are refused (OAuth required, no token)
// or out of quota end up as a bounded number of D1 rows (read straight from the D1 binding) and
// of metrics labels (read from the admin stats API), with the remainder counted under `other`.
// And secrets in tool arguments are masked before they reach D1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startOrigin } from '../demo/origin.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { TEST_ADMIN_SECRET, freePort, startGateway, testKey } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';

// The documented caps (crates/gatehouse-core/src/audit/*.rs, metrics/bounds.rs).
const ROWS_PER_REQUEST = 16;
const ROWS_PER_INTERVAL = 200;
const INTERVAL_MS = 2_000;
const FIELD_BYTES = 128;
const LABEL_BYTES = 64;
const SERIES_LABELS = 256;

const ADMIN = { authorization: `Bearer ${TEST_ADMIN_SECRET}` };
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A JSON-RPC batch of `n` tools/call requests, each naming a distinct tool `bytes` long. */
function floodBody(tag, n, bytes) {
  return JSON.stringify(Array.from({ length: n }, (_, i) => {
    const stem = `${tag}-${i}-`;
    return { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: stem + 'x'.repeat(bytes - stem.length), arguments: { i } } };
  }));
}

/**
 * The status of a POST whose body the gateway refuses on its Content-Length, unread. The body
 * waits for `100 Continue`, so the refusal cannot race the upload (fetch would fail with EPIPE).
 */
function postStatus(url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body), expect: '100-continue' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('continue', () => req.end(body));
    req.on('error', reject);
  });
}

const rowsOf = async (db, sql, ...args) => (await db.prepare(sql).bind(...args).all()).results;
const bytes = (s) => Buffer.byteLength(s ?? '');

/** Flushes the isolate's audit queue and metrics, then reads the stats. */
async function flushAndStats(gateway) {
  assert.equal((await fetch(`${gateway.url}/admin/api/audit?limit=1`, { headers: ADMIN })).status, 200);
  const res = await fetch(`${gateway.url}/admin/api/stats`, { headers: ADMIN });
  assert.equal(res.status, 200);
  return res.json();
}

/** Polls until `check` passes (background D1 batches may still be landing), then asserts it once more. */
async function eventually(check) {
  for (let i = 0; i < 50; i++) {
    try {
      return await check();
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return check();
}

function assertBoundedLabels(stats, route) {
  const rows = stats.per_route_and_tool.filter((r) => r.route === route);
  assert.ok(rows.length <= SERIES_LABELS + 1, `${rows.length} labels`);
  assert.ok(rows.some((r) => r.tool === 'other'), 'the remainder is counted under other');
  for (const r of rows) assert.ok(bytes(r.tool) <= LABEL_BYTES, r.tool.slice(0, 80));
  return rows;
}

describe('out of quota', () => {
  let origin, gateway;
  before(async () => {
    origin = await startOrigin();
    gateway = await startGateway({
      originUrl: origin.url,
      vars: { QUOTA_PER_MINUTE: '50', RATE_KEY_HEADER: 'x-api-key', MAX_BATCH_CALLS: '1000', CHALLENGE_OFFERS: 'pow', POW_ADAPTIVE: 'false' },
    });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('a client secret, a refresh token, a JWT and a Bearer credential are masked in D1', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbm4iLCJzY29wZSI6Im1jcDp0b29scyJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0wMTIzNDU2Nzg5';
    const { client, close } = await connect(gateway.mcpUrl, { fetch: gatehouseFetch(), headers: { 'x-api-key': testKey('secretive') } });
    await client.callTool({
      name: 'echo',
      arguments: {
        message: 'visible',
        client_secret: 'cs-plain-value-one',
        Refresh_Token: 'rt-plain-value-two',
        note: `forwarding ${jwt} upstream`,
        upstream: { header: 'Bearer opaque0123456789TOKENvalue' },
      },
    });
    await close();
    await flushAndStats(gateway);
    const [row] = await eventually(async () => {
      const rows = await rowsOf(gateway.db, "SELECT arguments FROM audit WHERE name = 'echo' AND arguments LIKE '%visible%'");
      assert.equal(rows.length, 1);
      return rows;
    });
    for (const secret of ['cs-plain-value-one', 'rt-plain-value-two', jwt.split('.')[1], jwt.split('.')[2], 'opaque0123456789TOKENvalue']) {
      assert.ok(!row.arguments.includes(secret), `${secret} in ${row.arguments}`);
    }
    const stored = JSON.parse(row.arguments);
    assert.equal(stored.client_secret, '[redacted]');
    assert.equal(stored.Refresh_Token, '[redacted]');
    assert.equal(stored.note, 'forwarding [redacted] upstream');
    assert.equal(stored.upstream.header, 'Bearer [redacted]');
    assert.equal(stored.message, 'visible');
  });

  test('batches of distinct, long tool names cost a bounded number of rows and labels', async (t) => {
    // 500 names of 10 KB are 5 MB, past the 1 MiB body cap: refused unread, nothing recorded.
    assert.equal(await postStatus(gateway.mcpUrl, { ...MCP, 'x-api-key': testKey('huge') }, floodBody('huge', 500, 10_240)), 413);
    // What fits: 500 names of ~1.9 KB, and 90 names of 10 KB, each from a fresh identity, at once.
    const flood = [
      ...Array.from({ length: 24 }, (_, i) => ({ key: `flood-${i}`, calls: 500, body: floodBody(`f${i}`, 500, 1_900) })),
      ...Array.from({ length: 6 }, (_, i) => ({ key: `long-${i}`, calls: 90, body: floodBody(`l${i}`, 90, 10_240) })),
    ];
    const statuses = await Promise.all(flood.map(async ({ key, body }) => {
      const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey(key), 'gatehouse-accept': '402' }, body });
      await res.arrayBuffer();
      return res.status;
    }));
    assert.deepEqual([...new Set(statuses)], [402], 'every batch is past its quota');

    const stats = await flushAndStats(gateway);
    const produced = flood.length * ROWS_PER_REQUEST;
    const rows = await eventually(async () => {
      const found = await rowsOf(gateway.db, "SELECT ts, identity, method, name, arguments, challenge FROM audit WHERE status = 402");
      const { dropped } = (await rowsOf(gateway.db, "SELECT COALESCE(SUM(json_extract(arguments, '$.dropped_rows')), 0) AS dropped FROM audit WHERE challenge = 'audit_rows_dropped'"))[0];
      const now = (await (await fetch(`${gateway.url}/admin/api/stats`, { headers: ADMIN })).json()).audit;
      // Every row the flood produced is either in D1 or counted as dropped, and the count is in D1 too.
      assert.equal(found.length + now.rows_dropped, produced, `${found.length} written + ${now.rows_dropped} dropped`);
      assert.equal(dropped, now.rows_dropped);
      return found;
    });

    const perRequest = Map.groupBy(rows, (r) => r.identity);
    assert.ok(perRequest.size <= flood.length);
    for (const [identity, own] of perRequest) {
      assert.ok(own.length <= ROWS_PER_REQUEST, `${own.length} rows for ${identity}`);
      for (const r of own.filter((x) => x.method === 'other')) {
        assert.match(r.arguments, /^\{"folded_calls":(485|75)\}$/);
      }
    }
    for (const r of rows) {
      assert.ok(bytes(r.name) <= FIELD_BYTES && bytes(r.identity) <= FIELD_BYTES, `${bytes(r.name)} bytes`);
    }
    // An interval starts at a push and lasts INTERVAL_MS; the first one may have begun up to an
    // interval before the flood did.
    const ts = rows.map((r) => r.ts);
    const windows = Math.floor((Math.max(...ts) - Math.min(...ts)) / INTERVAL_MS) + 2;
    assert.ok(rows.length <= ROWS_PER_INTERVAL * windows, `${rows.length} rows over ${windows} interval(s)`);
    t.diagnostic(`${rows.length} rows written, ${produced - rows.length} counted as dropped, over ${windows - 1}-${windows} interval(s)`);

    const labels = assertBoundedLabels(stats, 'default');
    const calls = flood.reduce((n, f) => n + f.calls, 0);
    assert.equal(stats.totals.payment_required, calls, 'every call is counted, if not under its own name');
    assert.equal(labels.reduce((n, r) => n + r.payment_required, 0), calls);
  });
});

describe('OAuth required, no token', () => {
  let origin, gateway;
  before(async () => {
    origin = await startOrigin();
    const port = await freePort();
    gateway = await startGateway({
      originUrl: origin.url,
      port,
      vars: {
        RATE_KEY_HEADER: 'x-api-key', MAX_BATCH_CALLS: '1000',
        OAUTH_MODE: 'required',
        // Never contacted: a request without a token is refused before any key is fetched.
        OAUTH_ISSUER: 'http://127.0.0.1:9/issuer',
        OAUTH_RESOURCE: `http://127.0.0.1:${port}/mcp`,
      },
    });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('a refused batch is one row, and its names are bounded labels', async () => {
    const requests = Array.from({ length: 12 }, (_, i) => ({ key: `anon-${i}`, body: floodBody(`a${i}`, 500, 1_900) }));
    for (const { key, body } of requests) {
      const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey(key) }, body });
      assert.equal(res.status, 401);
      await res.arrayBuffer();
    }
    const stats = await flushAndStats(gateway);
    const rows = await eventually(async () => {
      const found = await rowsOf(gateway.db, 'SELECT identity, method, name, arguments, challenge FROM audit WHERE status = 401');
      assert.equal(found.length, requests.length, 'one row per refused request');
      return found;
    });
    assert.equal(new Set(rows.map((r) => r.identity)).size, requests.length);
    for (const r of rows) {
      assert.equal(r.method, 'tools/call');
      assert.equal(r.arguments, '{"calls":500}');
      assert.equal(r.challenge, 'oauth_unauthorized:no_token');
      assert.ok(bytes(r.name) <= FIELD_BYTES);
    }
    assert.equal(stats.audit.rows_dropped, 0);
    const labels = assertBoundedLabels(stats, 'default');
    assert.equal(labels.reduce((n, r) => n + r.requests, 0), stats.totals.requests, 'every call is counted');
    assert.equal(stats.totals.requests, requests.length * 500);
  });
});
