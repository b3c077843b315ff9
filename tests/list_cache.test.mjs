// Public list results from the edge (MCP 2026-07-28 caching, SEP-2549; `mcp::cache`): an origin
// that marks a list result `cacheScope: "public"` with `ttlMs` is asked once per TTL however many
// agents list, through the Workers Cache API in workerd. Then the key attacked: a private result,
// another page, another route, another revision, a batch, an answer for another id, and a client
// whose quota is spent (a cached answer is still counted).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startGateway, testKey } from './support/gateway.mjs';

const TTL_MS = 4_000;
const REVISION = '2026-07-28';

/** An origin that counts what reaches it, with a public tools/list and a private prompts/list. */
function startListOrigin() {
  const calls = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const m = JSON.parse(raw);
      calls.push({ method: m.method, cursor: m.params?.cursor ?? null, path: req.url });
      const result = {
        'tools/list': { tools: [{ name: 'echo', inputSchema: { type: 'object' } }], nextCursor: m.params?.cursor ? undefined : 'p2', resultType: 'complete', cacheScope: 'public', ttlMs: TTL_MS },
        'prompts/list': { prompts: [{ name: 'mine' }], resultType: 'complete', cacheScope: 'private', ttlMs: TTL_MS },
        // Answers another id than it was asked: never kept.
        'resources/list': { resources: [], resultType: 'complete', cacheScope: 'public', ttlMs: TTL_MS },
      }[m.method];
      const id = m.method === 'resources/list' ? `${m.id}-other` : m.id;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(result ? { jsonrpc: '2.0', id, result } : { jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    count: (method) => calls.filter((c) => c.method === method).length,
    close: () => new Promise((r) => server.close(r)),
  })));
}

let origin, gateway;
before(async () => {
  origin = await startListOrigin();
  const route = (name, prefix) => ({ name, prefix, url: origin.url, quota: { per_minute: 1000 } });
  gateway = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', POLICY: JSON.stringify({ origins: [route('a', '/a'), route('b', '/b')] }) } });
});
after(async () => {
  await gateway?.dispose();
  await origin?.close();
});

async function list(path, { id = 1, method = 'tools/list', params = {}, key = 'lister', revision = REVISION, batch = false } = {}) {
  const message = { jsonrpc: '2.0', id, method, params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': revision, progressToken: id } } };
  const res = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': revision, 'x-api-key': testKey(key), ...(batch ? {} : { 'mcp-method': method }) },
    body: JSON.stringify(batch ? [message] : message),
  });
  return { status: res.status, ratelimit: res.headers.get('ratelimit'), body: await res.json() };
}

test('a hundred agents listing tools reach the origin once per TTL, each answered under its own id', async () => {
  const before = origin.count('tools/list');
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => list('/a/mcp', { id: `agent-${i}`, key: `agent-${i}` })));
  for (const [i, a] of answers.entries()) {
    assert.equal(a.status, 200);
    assert.equal(a.body.id, `agent-${i}`);
    assert.equal(a.body.result.tools[0].name, 'echo');
    assert.equal(a.body.result.cacheScope, 'public');
  }
  // All at once on a cold cache: one asks the origin, the others wait for its answer.
  const afterBurst = origin.count('tools/list');
  assert.equal(afterBurst - before, 1, 'one origin call for the hundred');
  for (let i = 0; i < 20; i++) assert.equal((await list('/a/mcp', { id: i, key: `late-${i}` })).status, 200);
  if (Date.now() - started < TTL_MS) assert.equal(origin.count('tools/list'), afterBurst, 'the repeats reached no origin');
  await new Promise((r) => setTimeout(r, TTL_MS + 200));
  const beforeRefresh = origin.count('tools/list');
  await list('/a/mcp', { id: 'after-ttl' });
  await list('/a/mcp', { id: 'after-ttl-2' });
  assert.equal(origin.count('tools/list'), beforeRefresh + 1, 'past ttlMs the origin is asked once again');
});

test('a private result, another page, another route, another revision and a batch each reach the origin', async () => {
  const count = () => origin.calls.length;
  let n = count();
  await list('/a/mcp', { method: 'prompts/list' });
  await list('/a/mcp', { method: 'prompts/list' });
  assert.equal(count() - n, 2, 'private: never kept');
  n = count();
  const page2 = await list('/a/mcp', { params: { cursor: 'p2' } });
  assert.equal(count() - n, 1, 'another page is another entry');
  assert.equal(page2.body.result.nextCursor, undefined);
  n = count();
  await list('/b/mcp', { id: 'b1' });
  await list('/b/mcp', { id: 'b2' });
  assert.equal(count() - n, 1, 'another route: its own entry');
  assert.equal(origin.calls.at(-1).path, '/mcp');
  n = count();
  await list('/a/mcp', { revision: '2025-11-25' });
  await list('/a/mcp', { revision: '2025-11-25' });
  assert.equal(count() - n, 2, 'no cache before 2026-07-28');
  n = count();
  await list('/a/mcp', { batch: true });
  await list('/a/mcp', { batch: true });
  assert.equal(count() - n, 2, 'a batch is never answered from the cache');
  n = count();
  await list('/a/mcp', { method: 'resources/list' });
  await list('/a/mcp', { method: 'resources/list' });
  assert.equal(count() - n, 2, 'an answer for another id is never kept');
});

test('a cached answer is still counted against the client\'s quota', async () => {
  const tight = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '3', IN_BAND_CHALLENGES: 'false' } });
  try {
    const ask = async (id) => {
      const res = await fetch(tight.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/list', 'x-api-key': testKey('counted') },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': REVISION } } }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const before = origin.count('tools/list');
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await ask(i));
    assert.deepEqual(statuses, [200, 200, 200, 402, 402]);
    assert.equal(origin.count('tools/list') - before, 1, 'two of the three answered from the cache');
  } finally {
    await tight.dispose();
  }
});
