// The adversarial review after the second one, given only the README: each class it reproduced,
// sent as it sent it, asserted as the refusal the gateway now gives (docs/threat-model.md):
// - x402 payments that verify but hold no funds: many calls run at the origin for one payment;
// - a 402 on one route offering a challenge outstanding on another, which cannot buy this one;
// - under RATE_KEY_UNVERIFIED, one client's denied requests spending its address's ceiling;
// - a Lightning backend down turning a 402 that could offer x402 or a reduced puzzle into a 503;
// - an origin status the runtime cannot build a response with taking the isolate down;
// - a stats range that ends before it starts panicking the metrics object;
// - an origin's own rate-limit fields contradicting the gateway's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { solvePow } from '../clients/js/pow.mjs';
import { startChain, gatewayVars } from '../demo/x402/chain.mjs';
import { startFacilitator } from '../demo/x402/facilitator.mjs';
import { TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { PRICE_PER_CALL, decodeHeader, encodeHeader, payer } from './support/x402.mjs';
import { tally } from './support/attack.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'gatehouse-accept': '402' };
const call = (id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { m: `m${id}` } } });

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, headers: res.headers, body: json, text };
}

/** A stateless origin answering each call with a result, after `delayMs`; counts what it ran. */
async function startCounting({ delayMs = 0, answer } = {}) {
  const hits = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ url: req.url, body });
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (answer) return answer(req, res);
      let id = null;
      try { id = JSON.parse(body).id ?? null; } catch {}
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'ok' }] } }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const deadPort = () => new Promise((r) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

describe('x402: the origin works only for money that moved', () => {
  let chain, facilitator, origin, gateway;
  before(async () => {
    // The payer holds exactly one call's price.
    chain = await startChain({ payers: 1, fund: BigInt(PRICE_PER_CALL) });
    facilitator = await startFacilitator(chain);
    origin = await startCounting({ delayMs: 1_000 });
    gateway = await startGateway({ originUrl: origin.url, vars: {
      QUOTA_PER_MINUTE: '1', CHALLENGE_OFFERS: 'x402,pow', REDEEM_PER_MINUTE: '2',
      ...gatewayVars(chain, facilitator.url, PRICE_PER_CALL),
    } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
    await facilitator?.close();
    chain?.stop();
  });

  test('six payments at once from a balance of one price: the origin runs one call, and one is paid', { timeout: 120_000 }, async () => {
    await post(gateway.mcpUrl, call(0));
    const denied = await post(gateway.mcpUrl, call(1));
    assert.equal(denied.status, 402);
    const required = decodeHeader(denied.headers.get('payment-required'));
    const client = payer(chain.payers[0], { cap: false });
    const signatures = await Promise.all(Array.from({ length: 6 }, () => client.createPaymentPayload(required).then(encodeHeader)));
    const ran = origin.hits.length;
    const payToBefore = await chain.balanceOf(chain.payTo);
    const answers = await Promise.all(signatures.map((s, i) => post(gateway.mcpUrl, call(10 + i), { 'payment-signature': s })));
    const statuses = tally(answers.map((a) => a.status));
    assert.equal(origin.hits.length - ran, 1, `the origin ran ${origin.hits.length - ran} calls for one price: ${JSON.stringify(statuses)}`);
    assert.equal(statuses[200], 1, JSON.stringify(statuses));
    assert.equal(await chain.balanceOf(chain.payTo) - payToBefore, BigInt(PRICE_PER_CALL));
    const served = answers.find((a) => a.status === 200);
    assert.ok(decodeHeader(served.headers.get('payment-response')).success, 'the served call carries its receipt');
    // Refused settlements count as refused payments: past REDEEM_PER_MINUTE (2), 429.
    const more = await post(gateway.mcpUrl, call(30), { 'payment-signature': await client.createPaymentPayload(required).then(encodeHeader) });
    assert.equal(more.status, 429, more.text.slice(0, 200));
    assert.equal(origin.hits.length - ran, 1);
  });
});

describe('offers per route', () => {
  test('a 402 on one route never offers a challenge outstanding on another; what it sells pays there', async () => {
    const origin = await startCounting();
    const POLICY = JSON.stringify({ origins: [
      { name: 'a', prefix: '/a', url: origin.url, quota: { per_minute: 1 }, offers: ['pow'] },
      { name: 'b', prefix: '/b', url: origin.url, quota: { per_minute: 1 }, offers: ['pow'] },
    ] });
    const gateway = await startGateway({ vars: { POLICY, POW_ADAPTIVE: 'false', POW_BASE_BITS: '12', POW_MIN_BITS: '12', POW_MAX_BITS: '12' } });
    try {
      const offered = {};
      for (const r of ['a', 'b']) {
        assert.equal((await post(`${gateway.url}/${r}/mcp`, call(1))).status, 200);
        const denied = await post(`${gateway.url}/${r}/mcp`, call(2));
        assert.equal(denied.status, 402);
        offered[r] = denied.body.challenges[0];
      }
      assert.notEqual(offered.a.challenge_id, offered.b.challenge_id, 'route b was offered route a\'s challenge');
      // Offered again on its own route.
      assert.equal((await post(`${gateway.url}/b/mcp`, call(3))).body.challenges[0].challenge_id, offered.b.challenge_id);
      const nonce = await solvePow(offered.b.salt, offered.b.difficulty);
      const redeemed = await post(offered.b.verify_url, JSON.stringify({ challenge_id: offered.b.challenge_id, solution: { nonce } }));
      assert.equal(redeemed.status, 200);
      const onB = await post(`${gateway.url}/b/mcp`, call(4), { 'x-access-token': redeemed.body.access_token });
      assert.equal(onB.status, 200, onB.text.slice(0, 200));
    } finally {
      await gateway.dispose();
      await origin.close();
    }
  });
});

describe('an unverified rate key', () => {
  test('one client\'s denied requests do not spend its address\'s ceiling for the others', async () => {
    const origin = await startCounting();
    const gateway = await startGateway({ originUrl: origin.url, vars: {
      RATE_KEY_HEADER: 'x-client', RATE_KEY_UNVERIFIED: 'true', QUOTA_PER_MINUTE: '5',
      ADDRESS_CEILING_PER_MINUTE: '20', ADDRESS_MINTS_PER_MINUTE: '1000',
    } });
    try {
      const mallory = [];
      for (let i = 0; i < 25; i++) mallory.push((await post(gateway.mcpUrl, call(i), { 'x-client': 'mallory' })).status);
      assert.deepEqual(tally(mallory), { 200: 5, 402: 20 });
      const alice = await post(gateway.mcpUrl, call(99), { 'x-client': 'alice' });
      assert.equal(alice.status, 200, `a fresh client behind the same address: ${alice.text.slice(0, 120)}`);
      // The ceiling still holds what gets through: 20 in all from the address.
      const rotated = [];
      for (let i = 0; i < 20; i++) rotated.push((await post(gateway.mcpUrl, call(200 + i), { 'x-client': `rot-${i}` })).status);
      assert.equal(origin.hits.length, 20, tally(rotated));
      assert.ok(rotated.filter((s) => s === 429).length >= 5, JSON.stringify(tally(rotated)));
    } finally {
      await gateway.dispose();
      await origin.close();
    }
  });
});

describe('a Lightning backend that is down', () => {
  let origin, dead;
  before(async () => { origin = await startCounting(); dead = await deadPort(); });
  after(async () => origin?.close());
  const l402 = () => ({ L402_BACKEND_URL: `http://127.0.0.1:${dead}`, L402_BACKEND_KEY: 'k'.repeat(32), L402_ROOT_KEY: 'l402-root-key-0123456789abcdef0123456789' });
  const x402 = () => ({ X402_NETWORK: 'eip155:31337', X402_ASSET: `0x${'11'.repeat(20)}`, X402_PAY_TO: `0x${'22'.repeat(20)}`, X402_PRICE_PER_CALL: '1000', X402_ASSET_NAME: 'Local Dollar', X402_ASSET_VERSION: '2', X402_FACILITATOR_URL: `http://127.0.0.1:${dead}` });

  test('leaves the x402 offer standing', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', CHALLENGE_OFFERS: 'x402,l402', ...x402(), ...l402() } });
    try {
      await post(gateway.mcpUrl, call(0));
      const denied = await post(gateway.mcpUrl, call(1));
      assert.equal(denied.status, 402, denied.text.slice(0, 200));
      assert.deepEqual(denied.body.challenges.map((c) => c.type), ['x402']);
      assert.ok(denied.headers.get('payment-required'));
    } finally {
      await gateway.dispose();
    }
  });

  test('with a time budget only L402 fitted, offers the reduced puzzle that fits instead of a 503', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', CHALLENGE_OFFERS: 'l402,pow', BUDGET_REDUCED_TOOLS: 'echo', ...l402() } });
    try {
      await post(gateway.mcpUrl, call(0));
      const denied = await post(gateway.mcpUrl, call(1), { 'gatehouse-time-budget': '0.01' });
      assert.equal(denied.status, 402, denied.text.slice(0, 200));
      const [pow] = denied.body.challenges;
      assert.deepEqual([pow.type, pow.grant], ['pow', 'reduced']);
    } finally {
      await gateway.dispose();
    }
  });
});

describe('what an origin answers', () => {
  test('a status no response can have is a 502, and takes nobody else\'s request down', { timeout: 60_000 }, async () => {
    const broken = await startCounting({ answer: (req, res) => { res.writeHead(Number(new URL(req.url, 'http://x').searchParams.get('s')), { 'content-type': 'application/json' }); res.end('{}'); } });
    const slow = await startCounting({ delayMs: 1_500 });
    const POLICY = JSON.stringify({ origins: [
      { name: 'bad', prefix: '/bad', url: broken.url },
      { name: 'good', prefix: '/good', url: slow.url },
    ] });
    const gateway = await startGateway({ vars: { POLICY, QUOTA_PER_MINUTE: '1000' } });
    try {
      for (const s of [600, 999, 101]) {
        const victim = post(`${gateway.url}/good/mcp`, call(1));
        await new Promise((r) => setTimeout(r, 200));
        const attacker = await post(`${gateway.url}/bad/mcp?s=${s}`, call(2));
        assert.equal(attacker.status, 502, `origin status ${s}: ${attacker.status} ${attacker.text.slice(0, 100)}`);
        assert.match(attacker.headers.get('content-type'), /json/);
        assert.equal((await victim).status, 200, `another client's request while the origin answered ${s}`);
      }
    } finally {
      await gateway.dispose();
      await broken.close();
      await slow.close();
    }
  });

  test('its own rate-limit fields never reach the client beside the gateway\'s', async () => {
    const liar = await startCounting({ answer: (req, res) => {
      if (req.headers['x-refuse'] === 'yes') {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7', 'ratelimit-remaining': '0' });
        return res.end('{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"busy"}}');
      }
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '0', 'ratelimit-limit': '1000', 'ratelimit-remaining': '999', 'ratelimit-reset': '1', 'x-ratelimit-remaining': '999', ratelimit: '"x";r=999;t=0' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    } });
    const gateway = await startGateway({ originUrl: liar.url, vars: { QUOTA_PER_MINUTE: '10' } });
    try {
      const res = await post(gateway.mcpUrl, call(1));
      assert.equal(res.status, 200);
      for (const name of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-ratelimit-remaining']) {
        assert.equal(res.headers.get(name), null, name);
      }
      assert.match(res.headers.get('ratelimit'), /^"minute";r=9;t=\d+$/);
      // An origin that is itself refusing keeps its Retry-After; its rate-limit fields still go.
      const refused = await post(gateway.mcpUrl, call(2), { 'x-refuse': 'yes' });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '7');
      assert.equal(refused.headers.get('ratelimit-remaining'), null);
      assert.match(refused.headers.get('ratelimit'), /^"minute";r=8;t=\d+$/);
    } finally {
      await gateway.dispose();
      await liar.close();
    }
  });
});

test('a stats range that ends before it starts is refused at once, and the metrics object stays up', async () => {
  const origin = await startCounting();
  const gateway = await startGateway({ originUrl: origin.url });
  try {
    const admin = { authorization: `Bearer ${TEST_ADMIN_SECRET}` };
    const bad = await fetch(`${gateway.url}/admin/api/stats?since=120000&until=0`, { headers: admin, signal: AbortSignal.timeout(10_000) });
    assert.equal(bad.status, 400);
    const good = await fetch(`${gateway.url}/admin/api/stats`, { headers: admin, signal: AbortSignal.timeout(10_000) });
    assert.equal(good.status, 200);
  } finally {
    await gateway.dispose();
    await origin.close();
  }
});
