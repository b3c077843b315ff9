// Attacks on the x402 payments and the per-isolate leases of token grants, each written as the
// behaviour the gateway promises (docs/PROTOCOL.md §1, §2, §8). Every test here failed against the
// commit it was written for; each names the promise it checks and how it was broken.
//
// - x402 is sold only where a route offers it, and not after the operator withdrew the offer;
// - a payer is never charged for an answer the gateway dropped, and the JS kit does not pay twice
//   for one call;
// - one payment does not carry a client past its quota to the origin again and again;
// - an L402 payment is leased or redeemed for a token, never both, whatever caveats its holder
//   adds to the macaroon.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as MacaroonLib from 'macaroon';
import { gatehouseFetch, wire } from '../clients/js/index.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { startOrigin } from '../demo/origin.mjs';
import { TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { JSON_RPC_CALL, exhaust, redeem } from './support/pow-flow.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { PRICE_PER_CALL, decodeHeader, encodeHeader, payer, startX402 } from './support/x402.mjs';

const { headers: H } = wire;
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const post = (url, headers, body = JSON_RPC_CALL) => fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body });
// An initialize, which the SDK origin answers 200 without a session.
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attack', version: '1' } } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A 402's PaymentRequired, from its header (null when the 402 offers no x402). */
async function required(mcpUrl, headers) {
  const res = await exhaust(mcpUrl, headers);
  await res.arrayBuffer();
  const raw = res.headers.get(H.payment_required);
  return raw ? decodeHeader(raw) : null;
}

/** A PAYMENT-SIGNATURE signed by the official client for `paymentRequired` (as given). */
async function sign(account, paymentRequired) {
  return encodeHeader(await payer(account, { cap: false }).createPaymentPayload(paymentRequired));
}

/** An HTTP server answering `status` to every request, counting what reached it. */
async function startFailingOrigin(status, headers = {}) {
  const seen = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.method);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'origin says no' } }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

/**
 * A facilitator in front of the real one that passes every call through, but answers the first
 * `/settle` only `delayMs` after the real facilitator settled it: a settlement that lands on chain
 * after the gateway stopped waiting.
 */
async function startSlowSettler(target, delayMs) {
  let slowLeft = 1;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
      const text = await upstream.text();
      if (req.url === '/settle' && slowLeft > 0) {
        slowLeft--;
        await sleep(delayMs);
      }
      if (res.destroyed) return;
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(text);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

describe('x402 attacks', () => {
  let x402, recording;
  before(async () => {
    [x402, recording] = await Promise.all([startX402(), startRecordingOrigin()]);
  });
  after(async () => {
    await x402?.stop();
    await recording?.close();
  });

  describe('a route that does not sell x402', () => {
    let gateway;
    before(async () => {
      const policy = JSON.stringify({ origins: [
        { name: 'paid', prefix: '/paid', url: recording.url, quota: { per_minute: 1 }, offers: ['x402', 'pow'] },
        { name: 'free', prefix: '/free', url: recording.url, quota: { per_minute: 1 }, offers: ['pow'] },
      ] });
      gateway = await startGateway({ originUrl: recording.url, vars: x402.vars({ POLICY: policy, RATE_KEY_HEADER: 'x-api-key' }) });
    });
    after(() => gateway?.dispose());

    test('x402 on a route whose offers do not include it: a payment signed for another route is not admitted', async () => {
      const key = { 'x-api-key': testKey('route-without-x402') };
      const free = `${gateway.url}/free/mcp`;
      assert.equal(await required(free, key), null, 'the free route offers no x402');
      // A requirement of the route that sells x402, at the same price (one call), for its resource.
      const pr = await required(`${gateway.url}/paid/mcp`, key);
      assert.ok(pr, 'the paid route offers x402');
      const header = await sign(x402.chain.payers[0], pr);
      const seen = recording.seen.length;
      const res = await post(free, { ...key, [H.payment_signature]: header });
      await res.arrayBuffer();
      assert.notEqual(res.status, 200, 'a route that does not offer x402 must not be bought past its quota with x402');
      assert.equal(recording.seen.length, seen, 'the origin of the free route is not reached');
    });

    test('x402 after the runtime policy withdrew it (admin offers: ["pow"]): a payment is not admitted', async () => {
      const key = { 'x-api-key': testKey('withdrawn') };
      const pr = await required(`${gateway.url}/paid/mcp`, key);
      const header = await sign(x402.chain.payers[0], pr);
      const put = await fetch(`${gateway.url}/admin/api/policy`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}`, 'content-type': 'application/json' },
        body: JSON.stringify({ offers: ['pow'] }),
      });
      assert.equal(put.status, 200, await put.text());
      const offered = await exhaust(`${gateway.url}/paid/mcp`, key);
      assert.equal(offered.headers.get(H.payment_required), null, 'new 402s no longer offer x402');
      await offered.arrayBuffer();
      const res = await post(`${gateway.url}/paid/mcp`, { ...key, [H.payment_signature]: header });
      await res.arrayBuffer();
      assert.notEqual(res.status, 200, 'a withdrawn offer is not still bought');
    });
  });

  describe('a settlement that lands after the gateway stopped waiting', () => {
    let gateway, slow, origin;
    before(async () => {
      origin = await startOrigin();
      slow = await startSlowSettler(x402.facilitator.url, 2_500);
      gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', X402_FACILITATOR_URL: slow.url, X402_FACILITATOR_TIMEOUT_MS: '1000' }) });
    });
    after(async () => {
      await gateway?.dispose();
      await slow?.close();
      await origin?.close();
    });

    // The rule: a facilitator slow at /settle is a 503, never a served request. If the
    // settlement lands after the gateway gave up, the payer has paid for nothing; what the kit
    // can do is never pay a second time for the same call (docs/agents.md, "x402": one payment buys one request).
    test('x402 settle timeout: the JS kit never pays twice for one call; the 503 goes to the caller', async () => {
      const account = x402.chain.payers[3];
      const key = { 'x-api-key': testKey('slow-settle') };
      await (await exhaust(gateway.mcpUrl, key)).arrayBuffer();
      const before = await x402.chain.balanceOf(account.address);
      const events = [];
      const kit = gatehouseFetch({ x402: { signer: account, maxAtomicPerPayment: PRICE_PER_CALL }, onEvent: (e) => events.push(e) });
      const res = await kit(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: INITIALIZE });
      await res.arrayBuffer();
      await sleep(3_000); // the slow settlement has landed on chain by now
      const charged = before - (await x402.chain.balanceOf(account.address));
      const signed = events.filter((e) => e.type === 'challenge' && e.kind === 'x402').length;
      assert.equal(res.status, 503, 'the gateway answered 503 and the kit passed it on');
      assert.equal(signed, 1, 'one payment signed');
      assert.ok(events.some((e) => e.type === 'payment_unconfirmed'));
      assert.ok(charged <= BigInt(PRICE_PER_CALL), `${charged} atomic units charged for one call`);
    });
  });

  describe('an origin that answers with an error', () => {
    let gateway, failing;
    before(async () => {
      failing = await startFailingOrigin(400, { [H.payment_response]: encodeHeader({ success: true, transaction: `0x${'ab'.repeat(32)}`, network: 'eip155:1', payer: '0x0000000000000000000000000000000000000001' }) });
      gateway = await startGateway({ originUrl: failing.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key' }) });
    });
    after(async () => {
      await gateway?.dispose();
      await failing?.close();
    });

    /** Five requests paid with one payload; what came back in PAYMENT-RESPONSE. */
    async function payFiveTimes(who) {
      const key = { 'x-api-key': testKey(who) };
      const header = await sign(x402.chain.payers[1], await required(gateway.mcpUrl, key));
      const [seen, settles] = [failing.seen.length, x402.facilitator.calls.settle];
      const responses = [];
      for (let i = 0; i < 5; i++) {
        const res = await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header });
        responses.push(res.headers.get(H.payment_response));
        await res.arrayBuffer();
      }
      // Settled before the origin is asked (a verified payment holds no funds): the one payment
      // once, whatever the origin then answers, and never again for the replays.
      assert.equal(x402.facilitator.calls.settle, settles + 1, 'the payment is settled exactly once');
      return { reached: failing.seen.length - seen, responses };
    }

    test('x402 with an origin answering 400: one payment carries request after request past the quota to the origin', async () => {
      const { reached } = await payFiveTimes('origin-400');
      assert.ok(reached <= 1, `${reached} requests reached the origin past the quota on one unsettled payment`);
    });

    test("x402 with an origin answering 400: the origin's own PAYMENT-RESPONSE (a made-up success) reaches the client", async () => {
      const { responses } = await payFiveTimes('origin-forged-receipt');
      const receipts = responses.filter(Boolean).map(decodeHeader);
      assert.ok(receipts.length <= 1, 'one receipt for one payment');
      assert.ok(receipts.every((r) => r.transaction !== `0x${'ab'.repeat(32)}`), 'a settlement nobody made is reported to the client as a success');
    });
  });
});

// The two tests run at once: each waits out a counter's linger (66 s), and they share the wait.
describe('L402: leased or redeemed, never both', { concurrency: true }, () => {
  let ln, origin, gateway;
  before(async () => {
    [ln, origin] = await Promise.all([startLnbits(), startOrigin()]);
    gateway = await startGateway({ originUrl: origin.url, vars: {
      QUOTA_PER_MINUTE: '1',
      RATE_KEY_HEADER: 'x-api-key',
      CHALLENGE_OFFERS: 'l402,pow',
      L402_BACKEND_URL: ln.url,
      L402_BACKEND_KEY: ln.gateway.inkey,
      L402_ROOT_KEY: 'l402-root-key-0123456789abcdef0123456789',
    } });
  });
  after(async () => {
    await gateway?.dispose();
    ln?.stop();
    await origin?.close();
  });

  test('L402 attenuated valid_until: a caveat the holder adds moves the credential counter\'s alarm, which forgets the redemption', { timeout: 120_000 }, async () => {
    const key = { 'x-api-key': testKey('attenuate') };
    const [l402] = (await (await exhaust(gateway.mcpUrl, key)).json()).challenges;
    assert.equal(l402.type, 'l402');
    const preimage = await ln.pay(l402.invoice);
    const redeemed = await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage } }, key);
    assert.equal(redeemed.status, 200, 'the payment is redeemed for a token');

    // The holder adds an expiry two seconds away: a narrower macaroon, which verifies.
    const mac = MacaroonLib.importMacaroon(l402.macaroon);
    mac.addFirstPartyCaveat(new TextEncoder().encode(`gatehouse_valid_until=${Math.floor(Date.now() / 1000) + 2}`));
    const short = `L402 ${Buffer.from(mac.exportBinary()).toString('base64')}:${preimage}`;
    const refused = await post(gateway.mcpUrl, { authorization: short }, INITIALIZE);
    assert.equal(refused.status, 401, 'the redeemed payment is refused as a credential');
    await refused.arrayBuffer();

    // The counter was told to expire with the short macaroon; once it has, the original one leases.
    await sleep(66_000);
    const genuine = await post(gateway.mcpUrl, { authorization: `L402 ${l402.macaroon}:${preimage}` }, INITIALIZE);
    await genuine.arrayBuffer();
    const token = await post(gateway.mcpUrl, { ...key, 'x-access-token': redeemed.body.access_token }, INITIALIZE);
    await token.arrayBuffer();
    assert.equal(token.status, 200, 'the token bought with the payment works');
    assert.equal(genuine.status, 401, 'the same payment must not also be spent as an L402 credential');
  });

  // The other order (the second attack review): the holder spends a macaroon it shortened, waits
  // for that expiry and the counter's linger to pass, then redeems the same preimage for a token.
  test('L402 shortened then redeemed: a macaroon spent with a shortened expiry leaves its payment unredeemable once that expiry has passed', { timeout: 120_000 }, async () => {
    const key = { 'x-api-key': testKey('shortens-then-redeems') };
    const [l402] = (await (await exhaust(gateway.mcpUrl, key)).json()).challenges;
    assert.equal(l402.type, 'l402');
    const preimage = await ln.pay(l402.invoice);
    const mac = MacaroonLib.importMacaroon(l402.macaroon);
    mac.addFirstPartyCaveat(new TextEncoder().encode(`gatehouse_valid_until=${Math.floor(Date.now() / 1000) + 2}`));
    const short = `L402 ${Buffer.from(mac.exportBinary()).toString('base64')}:${preimage}`;
    const spent = await post(gateway.mcpUrl, { authorization: short }, INITIALIZE);
    await spent.arrayBuffer();
    assert.equal(spent.status, 200, 'the narrower macaroon is a credential');
    await sleep(66_000);
    const again = await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage } }, key);
    assert.equal(again.status, 409, `the same payment sold a token too: ${JSON.stringify(again.body)}`);
    assert.equal(again.body.error, 'challenge_already_redeemed');
    const genuine = await post(gateway.mcpUrl, { authorization: `L402 ${l402.macaroon}:${preimage}` }, INITIALIZE);
    await genuine.arrayBuffer();
    assert.equal(genuine.status, 200, 'the credential itself still works');
  });
});
