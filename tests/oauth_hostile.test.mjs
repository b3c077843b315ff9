// The gateway against an authorization server's key endpoint that misbehaves: one that redirects
// elsewhere, one that sends an endless-looking body, and one that fails, then recovers. The keys
// themselves come from a real authorization server (oidc-provider); the JWKS URL the gateway is
// configured with (OAUTH_JWKS_URL) points at a small server in front of it that misbehaves on cue.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startAuthServer } from '../demo/auth-server.mjs';
import { startOrigin } from '../demo/origin.mjs';
import { freePort, startGateway } from './support/gateway.mjs';

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hostile-test', version: '1' } } });
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
// Far past the 64 KiB cap, and far past what the loopback socket buffers take in while nobody
// reads (about 4 MB here), so that "the server got to write all of it" can only mean the
// gateway read all of it.
const HUGE_BYTES = 32 * 1024 * 1024;

let as, origin, jwks, realJwksUri;
const asHits = [];

/**
 * The JWKS endpoint the gateway is given. `mode`: `ok` relays the real server's keys, `redirect`
 * answers 302 to them, `fail` answers 500, `huge` streams 32 MB of JSON without a length.
 */
async function startJwks() {
  const state = { mode: 'ok', hits: 0, huge: null };
  const server = http.createServer(async (req, res) => {
    state.hits++;
    if (state.mode === 'redirect') return res.writeHead(302, { location: realJwksUri }).end();
    if (state.mode === 'fail') return res.writeHead(500, { 'content-type': 'text/plain' }).end('down');
    if (state.mode === 'huge') {
      const huge = { written: 0, finished: false };
      state.huge = huge;
      huge.closed = new Promise((resolve) => res.on('close', resolve));
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      res.write('{"keys":[');
      while (huge.written < HUGE_BYTES && !res.destroyed) {
        const more = res.write(chunk);
        huge.written += chunk.length;
        if (!more) {
          await new Promise((resolve) => {
            const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      if (!res.destroyed) {
        res.end(']}');
        huge.finished = true;
      }
      return undefined;
    }
    const keys = await (await fetch(realJwksUri)).text();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(keys);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${server.address().port}/jwks`;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return state;
}

async function gatewayWithJwks() {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const gateway = await startGateway({
    originUrl: origin.url,
    port,
    vars: { OAUTH_MODE: 'required', OAUTH_ISSUER: as.issuer, OAUTH_RESOURCE: resource, OAUTH_REQUIRED_SCOPES: 'mcp:tools', OAUTH_JWKS_URL: jwks.url },
  });
  const meta = await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json();
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('agent-basic:agent-basic-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:tools', resource }),
  });
  const token = (await res.json()).access_token;
  const call = () => fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${token}` }, body: INITIALIZE });
  return { gateway, call };
}

before(async () => {
  [as, origin] = await Promise.all([startAuthServer({ onRequest: (r) => asHits.push(r.url) }), startOrigin()]);
  realJwksUri = (await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json()).jwks_uri;
  jwks = await startJwks();
});

after(async () => {
  await jwks?.close();
  await origin?.close();
  await as?.close();
});

const jwksHitsOnTheRealServer = () => asHits.filter((u) => u === new URL(realJwksUri).pathname).length;

test('a JWKS URL that redirects is not followed: the gateway answers 503, the target sees nothing', async () => {
  jwks.mode = 'redirect';
  jwks.hits = 0;
  const before = jwksHitsOnTheRealServer();
  const { gateway, call } = await gatewayWithJwks();
  try {
    const res = await call();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal((await res.json()).error, 'temporarily_unavailable');
    assert.ok(jwks.hits >= 1, 'the gateway asked the configured URL');
    assert.equal(jwksHitsOnTheRealServer() - before, 0, 'the redirect target was never fetched');
  } finally {
    await gateway.dispose();
  }
});

test('an oversized JWKS is refused without being read to its end', async () => {
  jwks.mode = 'huge';
  const { gateway, call } = await gatewayWithJwks();
  try {
    const res = await call();
    assert.equal(res.status, 503);
    await jwks.huge.closed;
    assert.equal(jwks.huge.finished, false, 'the gateway hung up before the body ended');
    assert.ok(jwks.huge.written < HUGE_BYTES, `${jwks.huge.written} of ${HUGE_BYTES} bytes were sent`);
  } finally {
    await gateway.dispose();
  }
});

test('a failing JWKS endpoint is backed off from, then used again once it recovers', async () => {
  jwks.mode = 'fail';
  jwks.hits = 0;
  const { gateway, call } = await gatewayWithJwks();
  try {
    const started = Date.now();
    const statuses = [];
    for (let round = 0; round < 4; round++) {
      // Each round: ten requests one after another, then ten at once.
      for (let i = 0; i < 10; i++) statuses.push((await call()).status);
      const burst = await Promise.all(Array.from({ length: 10 }, call));
      statuses.push(...burst.map((r) => r.status));
      for (const r of burst) assert.equal(r.headers.get('retry-after'), '2');
    }
    const elapsedS = (Date.now() - started) / 1_000;
    assert.deepEqual([...new Set(statuses)], [503], 'every request is told the server is unavailable');
    // The backoff starts at 1 s and doubles: in t seconds it allows at most 1 + log2(1 + t)
    // fetches. Without it, each of the 80 requests fetched.
    const allowed = 1 + Math.floor(Math.log2(1 + elapsedS)) + 1;
    assert.ok(jwks.hits >= 1 && jwks.hits <= allowed, `${jwks.hits} fetches for ${statuses.length} requests in ${elapsedS} s (at most ${allowed})`);

    jwks.mode = 'ok';
    let status = 503;
    for (let i = 0; i < 80 && status === 503; i++) {
      status = (await call()).status;
      if (status === 503) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 200, 'once the backoff ends, the recovered server\'s keys are used');
    const hits = jwks.hits;
    jwks.mode = 'fail';
    assert.equal((await call()).status, 200, 'known keys keep working while the server fails again');
    assert.equal(jwks.hits, hits, 'and need no fetch');
  } finally {
    await gateway.dispose();
  }
});
