// Attacks on the gateway itself, each against the built worker in workerd. Each got through an
// earlier version; each test now asserts the refusal (the ones marked "held" never got through).
//
// - a body with two readings: strict JSON for the gateway, brotli for an origin on the official
//   SDK's `createMcpExpressApp()` (`Content-Encoding: br` is forwarded), so a per-tool limit,
//   the price and the audit trail see a "ping" while the origin runs the limited tool;
// - an access token bought with free proof of work on one route admits on another route of the
//   same gateway that sells only L402 (tokens and L402 credentials name no route);
// - a PUT, PATCH, DELETE or OPTIONS body reaches the origin unread;
// - a `Connection` header naming a token that is not a field name is a bare 500;
// - taking an in-band token out of a body rewrites its numbers;
// - secrets the audit trail stores in clear.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { startOrigin } from '../demo/origin.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { solvePow } from '../clients/js/pow.mjs';
import { TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { HINT, brotliJsonPolyglot } from './support/brotli-polyglot.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const ADMIN = { authorization: `Bearer ${TEST_ADMIN_SECRET}` };
const call = (name, args = {}, id = 1) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** One request over a raw socket, for methods and headers `fetch` will not send. */
function rawRequest(url, method, headers, body = '') {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      const lines = Object.entries({ host: `${hostname}:${port}`, 'content-length': Buffer.byteLength(body), connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}`);
      socket.end(`${method} ${pathname} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    let out = '';
    socket.on('data', (d) => { out += d; });
    socket.on('end', () => resolve({ status: Number(out.split(' ')[1]), text: out.slice(out.indexOf('\r\n\r\n') + 4) }));
    socket.on('error', reject);
  });
}

/** An MCP origin as the official SDK sets one up: `createMcpExpressApp()`, stateless, JSON answers. */
async function startSdkExpressOrigin() {
  const ran = [];
  const app = createMcpExpressApp();
  app.post('/mcp', async (req, res) => {
    const server = new McpServer({ name: 'sdk-express-origin', version: '1.0.0' });
    server.registerTool('danger', { description: 'a tool the operator limits' }, async () => {
      ran.push('danger');
      return { content: [{ type: 'text', text: 'danger ran' }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, ran, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

describe('a body with a second reading under Content-Encoding', () => {
  let origin, gateway;
  before(async () => {
    origin = await startSdkExpressOrigin();
    const POLICY = JSON.stringify({ origins: [{ name: 'tools', prefix: '/', url: origin.url, quota: { per_minute: 100 }, limits: [{ name: 'danger', tool: 'danger', per_minute: 1 }] }] });
    gateway = await startGateway({ vars: { POLICY, RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('the body is a ping to a strict JSON reader and the limited tools/call to brotli', () => {
    const body = brotliJsonPolyglot(call('danger'), ',"jsonrpc":"2.0","id":1,"method":"ping"}', { hint: HINT });
    assert.equal(JSON.parse(body.toString('utf8')).method, 'ping');
  });

  test('a per-tool limit holds against a body the origin decodes as brotli', async () => {
    const headers = { ...MCP, 'x-api-key': testKey('polyglot') };
    const first = await fetch(gateway.mcpUrl, { method: 'POST', headers, body: call('danger') });
    assert.equal(first.status, 200);
    const limited = await fetch(gateway.mcpUrl, { method: 'POST', headers, body: call('danger') });
    assert.equal(limited.status, 429, 'the limit of one a minute is spent');
    const body = brotliJsonPolyglot(call('danger'), ',"jsonrpc":"2.0","id":1,"method":"ping"}', { hint: HINT });
    const smuggled = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...headers, 'content-encoding': 'br' }, body });
    const text = await smuggled.text();
    assert.deepEqual(origin.ran, ['danger'], `the origin ran the limited tool again: ${smuggled.status} ${text.slice(0, 120)}`);
    assert.ok(smuggled.status >= 400, 'a POST whose body the origin would decode is refused');
  });
});

describe('one gateway, two routes: proof of work on one, L402 only on the other', () => {
  let ln, origin, gateway;
  before(async () => {
    [ln, origin] = await Promise.all([startLnbits(), startOrigin()]);
    const POLICY = JSON.stringify({ origins: [
      { name: 'premium', prefix: '/premium', url: origin.url, quota: { per_minute: 1 }, offers: ['l402'] },
      { name: 'free', prefix: '/free', url: origin.url, quota: { per_minute: 1 }, offers: ['pow'] },
    ] });
    gateway = await startGateway({ vars: { POLICY, RATE_KEY_HEADER: 'x-api-key', L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY: 'attack2-root-key-0123456789abcdef0123' } });
  });
  after(async () => {
    await gateway?.dispose();
    ln?.stop();
    await origin?.close();
  });

  test('a token solved for on the free route does not admit on the paid one', async () => {
    const headers = { ...MCP, 'x-api-key': testKey('route-hopper') };
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'route-hopper', version: '1' } } });
    const post = (path, extra = {}) => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { ...headers, ...extra }, body: initialize });
    assert.equal((await post('/premium/mcp')).status, 200);
    const paid = await post('/premium/mcp');
    assert.equal(paid.status, 402);
    assert.deepEqual((await paid.json()).challenges.map((c) => c.type), ['l402'], 'past its quota the premium route sells only L402');
    assert.equal((await post('/free/mcp')).status, 200);
    const free = await post('/free/mcp');
    const pow = (await free.json()).challenges[0];
    const nonce = await solvePow(pow.salt, pow.difficulty);
    const redeemed = await fetch(pow.verify_url, { method: 'POST', headers, body: JSON.stringify({ challenge_id: pow.challenge_id, solution: { nonce } }) });
    const { access_token: token } = await redeemed.json();
    assert.equal(redeemed.status, 200);
    const hop = await post('/premium/mcp', { 'x-access-token': token });
    assert.notEqual(hop.status, 200, `a free token admitted on the L402-only route (${hop.headers.get('ratelimit')})`);
  });
});

describe('against a recording origin', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    const POLICY = JSON.stringify({ origins: [{ name: 'r', prefix: '/', url: origin.url, quota: { per_minute: 1000 }, limits: [{ name: 'danger', tool: 'danger', per_minute: 1 }] }] });
    gateway = await startGateway({ vars: { POLICY, RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('no JSON-RPC body reaches the origin unread, whatever the method', async () => {
    const headers = { 'content-type': 'application/json', 'x-api-key': testKey('methods') };
    // Unreadable under the gateway's rules (a member twice), and a limited tool at that.
    const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"danger"}}';
    assert.equal((await rawRequest(gateway.mcpUrl, 'POST', headers, body)).status, 400, 'as a POST it is refused');
    const reached = [];
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const before = origin.seen.length;
      await rawRequest(gateway.mcpUrl, method, headers, body);
      if (origin.seen.slice(before).some((s) => s.raw.length > 0)) reached.push(method);
    }
    assert.deepEqual(reached, [], 'bodies forwarded unread');
  });

  test('a Connection header naming something that is not a field name is not a 500', async () => {
    const statuses = [];
    for (const connection of ['foo bar', 'keep-alive, x(y)', 'a@b']) {
      statuses.push((await rawRequest(gateway.mcpUrl, 'POST', { 'content-type': 'application/json', 'x-api-key': testKey('connection'), connection }, call('echo'))).status);
    }
    assert.ok(statuses.every((s) => s !== 500), `statuses ${statuses}`);
  });

  test('taking an in-band token out of a body leaves the numbers as they were sent', async () => {
    const numbers = '{"exp":1E5,"big":123456789012345678901234567890,"one":1.0,"tiny":5e-324}';
    const body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":${numbers},"_meta":{"gatehouse/access_token":"x"}}}`;
    const before = origin.seen.length;
    const res = await rawRequest(gateway.mcpUrl, 'POST', { 'content-type': 'application/json', 'x-api-key': testKey('numbers') }, body);
    assert.notEqual(res.status, 500);
    const [got] = origin.seen.slice(before);
    assert.ok(got, 'the call reached the origin');
    assert.ok(!got.raw.includes('gatehouse/access_token'), 'the token was taken out');
    for (const token of ['1E5', '123456789012345678901234567890', '1.0', '5e-324']) {
      assert.ok(got.raw.includes(token), `${token} reached the origin as ${got.raw.match(/"arguments":(\{[^}]*\})/)?.[1]}`);
    }
  });
});

describe('the audit trail', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '100', RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('stores none of these secrets', async () => {
    const secrets = {
      pass: 'hunter2hunter2',
      pwd: 'Tr0ub4dor-and-3',
      passphrase: 'correct horse battery staple',
      mnemonic: 'abandon ability able about above absent absorb abstract absurd abuse access accident',
      request_body: '{"password": "swordfish-1987"}',
      form: 'user=bob&password=letmein-2024',
      url: 'https://api.example.com/v1/data?apikey=0123456789abcdef0123',
      dsn: 'postgres://app:S3cr3tPassw0rd@db.example.com/prod',
      header: 'Authorization: Bearer%20abcdefghijklmnop1234',
    };
    const needles = ['hunter2hunter2', 'Tr0ub4dor-and-3', 'battery staple', 'absurd abuse', 'swordfish-1987', 'letmein-2024', '0123456789abcdef0123', 'S3cr3tPassw0rd', 'abcdefghijklmnop1234'];
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('auditee') }, body: call('store', secrets) });
    assert.equal(res.status, 200);
    const { records } = await (await fetch(`${gateway.url}/admin/api/audit?identity=key:auditee`, { headers: ADMIN })).json();
    assert.equal(records.length, 1);
    const stored = records[0].arguments;
    assert.deepEqual(needles.filter((n) => stored.includes(n)), [], `stored: ${stored}`);
  });
});

describe('held: the admin API against a browser on another site', () => {
  let gateway;
  before(async () => {
    const origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url });
    gateway.origin = origin;
  });
  after(async () => {
    await gateway?.dispose();
    await gateway?.origin.close();
  });

  test('no variant of a forged state change gets past the guard; every answer forbids framing', async () => {
    const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_SECRET}`).toString('base64')}`;
    const mint = (headers, method = 'POST') => fetch(`${gateway.url}/admin/api/keys`, { method, headers: { authorization: basic, ...headers }, body: method === 'GET' ? undefined : '{"id":"forged"}' });
    const cases = [
      [{ 'content-type': 'application/json;foo=bar', 'sec-fetch-site': 'cross-site' }, 403],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }, 403],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site', origin: gateway.url }, 403],
      [{ 'content-type': 'application/json', origin: 'null' }, 403],
      [{ 'content-type': 'application/json', origin: `${gateway.url}.evil.example` }, 403],
      [{ 'content-type': 'text/plain', 'sec-fetch-site': 'same-origin' }, 415],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 415],
      [{ 'content-type': 'application/json, text/plain' }, 415],
    ];
    for (const [headers, status] of cases) {
      const res = await mint(headers);
      assert.equal(res.status, status, JSON.stringify(headers));
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
    }
    const overridden = await mint({ 'x-http-method-override': 'POST', 'x-method-override': 'POST' }, 'GET');
    assert.notEqual(overridden.status, 201, 'a GET is never a mint, whatever it claims');
    assert.equal((await mint({ 'content-type': 'application/json' })).status, 201, 'a script with the secret still mints');
  });
});
