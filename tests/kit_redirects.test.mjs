// Attacks on the client kit, each of which got through an earlier version; each test now asserts
// what docs/client-kit.md promises ("What the kit guarantees").
//
// - An origin behind the gateway answers with a redirect to another host. The gateway passes it
//   back unfollowed, as documented, but the wrapper's fetch follows it, carrying the access token
//   the wrapper added and the caller's API key; and a 402 the other host marks as the gateway's is
//   answered, its invoice paid from the real LNbits wallet.
// - A server marks its 402 (or in-band challenge) and asks for a proof of work no gateway would
//   (60 bits; POW_MAX_BITS is at most 32): the Python flow and the bridge's in-band path solve
//   with no deadline and never return.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startLnbits } from '../demo/lnbits.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { ROOT, startGateway, testKey } from './support/gateway.mjs';
import { l402Offer, startHostile, startListener } from './support/hostile.mjs';

const BRIDGE = join(ROOT, 'clients', 'js', 'bin', 'gatehouse.mjs');
const PYTHON = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
const PY_CLIENT = join(ROOT, 'tests', 'python_kit_client.py');
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } });
/** How long a client gets to give up on a challenge it cannot answer; it should take no time. */
const GIVE_UP_MS = 30_000;
/** A proof of work a gateway never asks for (POW_MAX_BITS is 1-32), redeemable on the server's origin. */
const hardPow = { type: 'pow', challenge_id: 'ab'.repeat(16), salt: 'cd'.repeat(16), difficulty: 60, algorithm: 'sha256', expires_at: 4_102_444_800, verify_url: '/verify' };

/** An origin that answers every request with a 307 to `location`. */
async function startRedirectingOrigin(location) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(307, { location }).end());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

describe('an origin that redirects the client elsewhere', () => {
  let ln, listener;
  before(async () => {
    [ln, listener] = await Promise.all([startLnbits(), startListener()]);
  });
  after(async () => {
    ln?.stop();
    await listener?.close();
  });

  test('the wrapper sends neither its access token nor the API key to the other host', async () => {
    const origin = await startRedirectingOrigin(`${listener.url}/stolen`);
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key' } });
    try {
      const key = testKey('redirected');
      const wrapped = gatehouseFetch();
      // The first call is within quota; the second meets a 402, solves it, and retries with a token.
      for (let i = 0; i < 2; i++) await (await wrapped(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': key }, body: CALL })).arrayBuffer();
      const stolen = listener.hits.filter((h) => h.path === '/stolen');
      const token = stolen.map((h) => h.headers['x-access-token']).find(Boolean);
      if (token) {
        // What the other host can do with what it was sent.
        const { 'user-agent': ua, 'x-api-key': leakedKey } = stolen.at(-1).headers;
        const replay = await fetch(gateway.mcpUrl, { method: 'POST', redirect: 'manual', headers: { ...MCP, 'x-api-key': leakedKey, 'x-access-token': token, 'user-agent': ua }, body: CALL });
        assert.fail(`the other host got the access token (replayed: ${replay.status}, ${replay.headers.get('ratelimit')}) and the key`);
      }
      assert.deepEqual(stolen.map((h) => h.headers['x-api-key']).filter(Boolean), [], 'the other host got the API key');
    } finally {
      listener.hits.length = 0;
      await gateway.dispose();
      await origin.close();
    }
  });

  test('the wrapper pays no invoice from a 402 it met after a redirect', async () => {
    const res = await fetch(`${ln.url}/api/v1/payments`, { method: 'POST', headers: { 'x-api-key': ln.gateway.inkey, 'content-type': 'application/json' }, body: JSON.stringify({ out: false, amount: 9, memo: 'redirected' }) });
    const invoice = (await res.json()).bolt11;
    // Marked, within the caps, and redeemable "on the gateway's origin" (a relative verify URL).
    const hostile = await startHostile({ marked: true, challenges: () => [l402Offer(invoice, '/api/verify-challenge', 9)] });
    const origin = await startRedirectingOrigin(`${hostile.url}/mcp`);
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '100', RATE_KEY_HEADER: 'x-api-key' } });
    try {
      const paid = [];
      const wallet = { payInvoice: async ({ invoice: bolt11 }) => { paid.push(bolt11); return { preimage: await ln.pay(bolt11) }; } };
      const before = await ln.balanceMsat(ln.payer);
      await gatehouseFetch({ wallet })(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('payer') }, body: CALL }).catch(() => {});
      assert.deepEqual(paid, [], `paid ${(before - await ln.balanceMsat(ln.payer)) / 1000} sats to the server the origin redirected to`);
    } finally {
      await gateway.dispose();
      await origin.close();
      await hostile.close();
    }
  });
});

describe('a challenge no gateway would issue', () => {
  let hostile, inBand;
  before(async () => {
    [hostile, inBand] = await Promise.all([
      startHostile({ marked: true, challenges: () => [hardPow] }),
      startHostile({ marked: true, inBand: true, challenges: () => [hardPow] }),
    ]);
  });
  after(async () => {
    await hostile?.close();
    await inBand?.close();
  });

  test('the JS wrapper does not try it, and hands the 402 back', async () => {
    const events = [];
    const res = await gatehouseFetch({ solveBudgetMs: 500, onEvent: (e) => events.push(e) })(`${hostile.url}/mcp`, { method: 'POST', headers: MCP, body: CALL });
    assert.equal(res.status, 402);
    assert.ok(!events.some((e) => e.type === 'solved'), JSON.stringify(events));
  });

  test('the Python flow hands the 402 back instead of solving for ever', async () => {
    const result = await new Promise((resolve) => execFile(PYTHON, [PY_CLIENT, 'run', `${hostile.url}/mcp`, '1', '--async'], { timeout: GIVE_UP_MS }, (err, stdout) => resolve(err ? { killed: err.killed || err.signal } : JSON.parse(stdout.trim().split('\n').at(-1)))));
    assert.equal(result.killed, undefined, `still solving after ${GIVE_UP_MS} ms, with the event loop blocked`);
    assert.deepEqual(result.statuses, [402]);
  });

  test('the bridge answers the in-band call with an error instead of solving for ever', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BRIDGE, 'connect', `${inBand.url}/mcp`, '--no-declare-402'], stderr: 'pipe' });
    const client = new Client({ name: 'attack2-bridge-client', version: '1.0.0' });
    let timer;
    try {
      // The server answers every request in-band, `initialize` included.
      const outcome = await Promise.race([
        client.connect(transport).then(() => client.callTool({ name: 'echo', arguments: { message: 'x' } })).then(() => 'answered', () => 'error'),
        new Promise((r) => { timer = setTimeout(() => r('still solving'), GIVE_UP_MS); }),
      ]);
      assert.notEqual(outcome, 'still solving', `no answer after ${GIVE_UP_MS} ms: the bridge is solving a 60-bit proof of work`);
    } finally {
      clearTimeout(timer);
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
    }
  });
});
