// Attacks on what an unpaid request can make the gateway spend through x402, and on what the JS kit
// signs (docs/PROTOCOL.md §8). Every test here names the promise it checks and how it was broken.
//
// - A request nobody paid for costs the gateway a bounded amount: a client presenting forged
//   PAYMENT-SIGNATURE headers (well formed, matching the requirement, signed by nobody) must not
//   make the gateway call the facilitator's /verify once per request, without bound, while it
//   never reaches the client's quota counter.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { wire } from '../clients/js/index.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { JSON_RPC_CALL, exhaust } from './support/pow-flow.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { decodeHeader, encodeHeader, startX402 } from './support/x402.mjs';

const { headers: H } = wire;
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A facilitator in front of the real one that passes every call through and counts them by path. */
async function startCountingFacilitator(target) {
  const calls = {};
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      calls[req.url] = (calls[req.url] ?? 0) + 1;
      const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
      const text = await upstream.text();
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(text);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, calls, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

/** A PAYMENT-SIGNATURE that passes every local check for `accepted` but that nobody signed. */
function forged(accepted) {
  const now = Math.floor(Date.now() / 1000);
  return encodeHeader({
    x402Version: 2,
    accepted,
    payload: {
      signature: `0x${'11'.repeat(65)}`,
      authorization: {
        from: `0x${randomBytes(20).toString('hex')}`,
        to: accepted.payTo,
        value: accepted.amount,
        validAfter: '0',
        validBefore: String(now + 60),
        nonce: `0x${randomBytes(32).toString('hex')}`,
      },
    },
  });
}

describe('x402: what an unpaid request costs', () => {
  let x402, recording, counting, gateway;
  before(async () => {
    [x402, recording] = await Promise.all([startX402(), startRecordingOrigin()]);
    counting = await startCountingFacilitator(x402.facilitator.url);
    const policy = JSON.stringify({ origins: [
      { name: 'paid', prefix: '/mcp', url: recording.url, quota: { per_minute: 1 }, offers: ['x402', 'pow'] },
    ] });
    gateway = await startGateway({ originUrl: recording.url, vars: x402.vars({ POLICY: policy, X402_FACILITATOR_URL: counting.url, REDEEM_PER_MINUTE: '2' }) });
  });
  after(async () => {
    await gateway?.dispose();
    await counting?.close();
    await recording?.close();
    await x402?.stop();
  });

  test('forged PAYMENT-SIGNATURE headers from one client do not buy a facilitator /verify each, without bound', { timeout: 120_000 }, async () => {
    const key = testKey('forger');
    const res = await exhaust(gateway.mcpUrl, key);
    await res.arrayBuffer();
    const accepted = decodeHeader(res.headers.get(H.payment_required)).accepts[0];
    const attempts = 20;
    const statuses = [];
    for (let i = 0; i < attempts; i++) {
      const r = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key, [H.payment_signature]: forged(accepted) }, body: JSON_RPC_CALL });
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    // None of them was admitted: the facilitator refused every signature.
    assert.ok(statuses.every((s) => s !== 200), `statuses: ${statuses}`);
    // The promise: an over-quota client sending garbage cannot make the gateway spend a
    // facilitator call (and two D1 writes) per request. Refused payments are counted like failed
    // redemptions (REDEEM_PER_MINUTE, 2 here: the refusal that finds the budget spent is the last
    // to have cost a /verify, so 3 in all); past that the client gets 429 with no claim row
    // and no /verify. (Before, every well-formed payload cost one /verify, without bound.)
    const verifies = counting.calls['/verify'] ?? 0;
    assert.ok(verifies <= 3, `${attempts} forged payments from one over-quota client reached the facilitator's /verify ${verifies} times`);
  });
});

// - The JS kit's x402 caps are in "the asset's atomic units", but the asset and the network are
//   whatever the 402 names: a gateway (or whoever answers on its origin) can price in a token worth
//   a thousand times the one the caller meant, or on another chain its key also signs for, and stay
//   within the caps. The caller must be able to say which asset on which network it pays with
//   (as the official x402 client's spend controls do), and the kit must sign for nothing else.
describe('JS kit: x402 caps hold only in the asset the caller pays with', () => {
  const MEANT = { network: 'eip155:8453', asset: `0x${'a'.repeat(40)}` };
  const OTHER = { network: 'eip155:1', asset: `0x${'b'.repeat(40)}` };
  let server, url;
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const resource = { url: `${url}/mcp`, description: 'x', mimeType: 'application/json' };
        const accepted = { scheme: 'exact', ...OTHER, amount: '10000', payTo: `0x${'c'.repeat(40)}`, maxTimeoutSeconds: 60, extra: { name: 'Wrapped BTC', version: '1', assetTransferMethod: 'eip3009' } };
        res.writeHead(402, {
          'content-type': 'application/json',
          [H.challenge_marker]: wire.header_values.challenge_marker,
          [H.payment_required]: encodeHeader({ x402Version: 2, resource, accepts: [accepted] }),
        });
        res.end(JSON.stringify({ error: 'payment_required', challenges: [{ type: 'x402' }] }));
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));

  test('a 402 pricing in another asset or network than the caller allowed is not signed', async () => {
    const { gatehouseFetch } = await import('../clients/js/index.mjs');
    const signed = [];
    const signer = { address: `0x${'d'.repeat(40)}`, signTypedData: async (t) => { signed.push(t.domain); return `0x${'11'.repeat(65)}`; } };
    const events = [];
    const f = gatehouseFetch({ x402: { signer, allowedAssets: [MEANT] }, onEvent: (e) => events.push(e) });
    const res = await f(`${url}/mcp`, { method: 'POST', headers: MCP, body: JSON_RPC_CALL });
    await res.arrayBuffer();
    assert.equal(res.status, 402, JSON.stringify(events));
    assert.deepEqual(signed, [], `the kit signed for ${JSON.stringify(signed)}, not the asset it was given`);
  });
});
