// The second attack review's gateway classes, each sent as the attacker sent it and asserted as
// the refusal the gateway now gives (docs/threat-model.md):
// 1. one Lightning payment, two grants: spend a macaroon shortened by its holder, wait for the
//    short expiry to pass, then redeem the same preimage for a token (in hostile_payments.test.mjs,
//    beside the other order, so that the two share their wait);
// 2. a revocation that lapses before what it revokes (L402 credentials, reduced tokens);
// 3. slow redemptions dragging everyone's puzzle below POW_BASE_BITS;
// 4. a client choosing its own address with CF-Connecting-IP where the runtime lets it;
// 5. the admin secret guessed at full speed, and a weak one accepted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as MacaroonLib from 'macaroon';
import { startLnbits } from '../demo/lnbits.mjs';
import { startOrigin } from '../demo/origin.mjs';
import { TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { exhaust, redeem, solve } from './support/pow-flow.mjs';
import { sleep, tally } from './support/attack.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'second-review', version: '1' } } });
const ADMIN = { authorization: `Bearer ${TEST_ADMIN_SECRET}`, 'content-type': 'application/json' };

async function post(url, headers, body = INITIALIZE) {
  const res = await fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** The macaroon's own expiry caveat, as minted. */
const mintedUntil = (macaroon) => Number(MacaroonLib.importMacaroon(macaroon)._exportAsJSONObjectV2().c.map((c) => c.i).find((c) => c.startsWith('gatehouse_valid_until=')).split('=')[1]);
/** The revocation id of an L402 credential: `l402:` and the token id in its identifier. */
const l402Jti = (macaroon) => `l402:${Buffer.from(MacaroonLib.importMacaroon(macaroon).identifier.slice(34, 66)).toString('hex')}`;
describe('L402 and revocations: one payment, one grant, for as long as it lasts', { concurrency: true }, () => {
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
      TOKEN_TTL_SECONDS: '10',
    } });
  });
  after(async () => {
    await gateway?.dispose();
    ln?.stop();
    await origin?.close();
  });

  async function paidL402(name) {
    const key = { 'x-api-key': testKey(name) };
    const offer = (await (await exhaust(gateway.mcpUrl, key)).json()).challenges.find((c) => c.type === 'l402');
    return { key, offer, preimage: await ln.pay(offer.invoice) };
  }

  test('an L402 revocation outlives the credential, not just a token\'s lifetime', { timeout: 60_000 }, async () => {
    const { offer, preimage } = await paidL402('revoked-l402');
    const credential = { authorization: `L402 ${offer.macaroon}:${preimage}` };
    assert.equal((await post(gateway.mcpUrl, credential)).status, 200);
    const res = await fetch(`${gateway.url}/admin/api/revoke`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ jti: l402Jti(offer.macaroon) }) });
    assert.equal(res.status, 200);
    const { expires_at } = await res.json();
    assert.ok(expires_at >= mintedUntil(offer.macaroon), `kept until ${expires_at}, the credential lives until ${mintedUntil(offer.macaroon)}`);
    assert.equal((await post(gateway.mcpUrl, credential)).status, 401);
    // Past TOKEN_TTL_SECONDS (10) and a revocation-list refresh (8 s): before, it was forgotten here.
    await sleep(20_000);
    const later = await post(gateway.mcpUrl, credential);
    assert.equal(later.status, 401, `a revoked credential was admitted again: ${later.text.slice(0, 200)}`);
  });

  test('a reduced token\'s revocation lasts its longer lifetime', { timeout: 60_000 }, async () => {
    // Without L402, which would fit any budget: a budget too tight for the puzzle buys a reduced one.
    const reducing = await startGateway({ originUrl: origin.url, vars: {
      QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', TOKEN_TTL_SECONDS: '10',
      BUDGET_REDUCED_TOOLS: 'echo', BUDGET_REDUCED_TTL_SECONDS: '900',
    } });
    try {
      const headers = { 'x-api-key': testKey('reduced-revoked'), 'gatehouse-time-budget': '0.01' };
      const pow = (await (await exhaust(reducing.mcpUrl, headers)).json()).challenges.find((c) => c.type === 'pow');
      assert.equal(pow.grant, 'reduced');
      const bought = await redeem(pow.verify_url, { challenge_id: pow.challenge_id, solution: { nonce: await solve(pow) } }, headers);
      assert.equal(bought.status, 200);
      const claims = JSON.parse(Buffer.from(bought.body.access_token.split('.')[1], 'base64url'));
      assert.ok(claims.exp - claims.iat > 10, 'a reduced token outlives TOKEN_TTL_SECONDS');
      const token = { ...headers, 'x-access-token': bought.body.access_token };
      assert.equal((await post(reducing.mcpUrl, token)).status, 200);
      const revoked = await fetch(`${reducing.url}/admin/api/revoke`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ jti: claims.jti }) });
      assert.ok((await revoked.json()).expires_at >= claims.exp, 'kept at least as long as the token lives');
      await sleep(20_000);
      assert.equal((await post(reducing.mcpUrl, token)).status, 401, 'the revoked reduced token came back');
    } finally {
      await reducing.dispose();
    }
  });
});

describe('the adaptive difficulty against slow redeemers', () => {
  test('redemptions made slowly on purpose never take a new client below POW_BASE_BITS', { timeout: 90_000 }, async () => {
    const origin = await startOrigin();
    // A short target and interval, so "slow" is a second and the controller acts every 5 s.
    const gateway = await startGateway({ originUrl: origin.url, vars: {
      QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', POW_BASE_BITS: '14', POW_MIN_BITS: '12',
      POW_TARGET_SOLVE_MS: '100', POW_ADJUST_SECONDS: '5',
    } });
    try {
      const served = [];
      for (let round = 0; round < 4; round++) {
        const offers = [];
        for (let i = 0; i < 12; i++) {
          const key = { 'x-api-key': testKey(`slow-${round}-${i}`) };
          const pow = (await (await exhaust(gateway.mcpUrl, key)).json()).challenges.find((c) => c.type === 'pow');
          served.push(pow.difficulty);
          offers.push({ key, pow, nonce: await solve(pow) });
        }
        await sleep(1_500);
        for (const { key, pow, nonce } of offers) {
          assert.equal((await redeem(pow.verify_url, { challenge_id: pow.challenge_id, solution: { nonce } }, key)).status, 200);
        }
        await sleep(5_000);
      }
      const fresh = (await (await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('newcomer') })).json()).challenges.find((c) => c.type === 'pow');
      served.push(fresh.difficulty);
      assert.ok(served.every((d) => d >= 14), `served below the base: ${served.join(',')}`);
      const stats = await (await fetch(`${gateway.url}/admin/api/stats`, { headers: ADMIN })).json();
      assert.equal(stats.current_difficulty, fresh.difficulty, 'the dashboard shows the difficulty served');
    } finally {
      await gateway.dispose();
      await origin.close();
    }
  });
});

describe('addresses the gateway can believe', () => {
  let origin;
  before(async () => { origin = await startOrigin(); });
  after(async () => origin?.close());

  test('under local development (npm start), invented CF-Connecting-IP values buy no quota and no offers', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1' } });
    try {
      const answers = [];
      for (const ip of ['', '198.51.100.1', '198.51.100.2', '203.0.113.9', '2001:db8::77']) {
        answers.push(await post(gateway.mcpUrl, ip ? { 'cf-connecting-ip': ip } : {}));
      }
      assert.deepEqual(answers.map((a) => a.status), [200, 402, 402, 402, 402]);
      const ids = answers.slice(1).map((a) => JSON.parse(a.text).challenge_id);
      assert.equal(new Set(ids).size, 1, 'one client, offered its one outstanding challenge again');
      const rows = await gateway.db.prepare('SELECT count(*) AS n FROM challenges').first();
      assert.equal(rows.n, 1);
    } finally {
      await gateway.dispose();
    }
  });

  test('a self-hosted gateway counts by the header its proxy sets, and never by CF-Connecting-IP', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', CLIENT_ADDRESS_HEADER: 'X-Real-IP' } });
    try {
      const a = await post(gateway.mcpUrl, { 'x-real-ip': '198.51.100.1', 'cf-connecting-ip': '203.0.113.1' });
      const b = await post(gateway.mcpUrl, { 'x-real-ip': '198.51.100.1', 'cf-connecting-ip': '203.0.113.2' });
      const c = await post(gateway.mcpUrl, { 'x-real-ip': '198.51.100.2', 'cf-connecting-ip': '203.0.113.2' });
      assert.deepEqual([a.status, b.status, c.status], [200, 402, 200]);
    } finally {
      await gateway.dispose();
    }
  });
});

describe('the admin secret', () => {
  let origin;
  before(async () => { origin = await startOrigin(); });
  after(async () => origin?.close());

  const stats = (url, secret, ip) => fetch(`${url}/admin/api/stats`, { headers: { authorization: `Bearer ${secret}`, 'cf-connecting-ip': ip } })
    .then(async (r) => { await r.arrayBuffer(); return r; });

  test('guesses are throttled per address and in total, the right secret included, and audited', { timeout: 60_000 }, async () => {
    // As behind Cloudflare's edge, so that the test can speak from many addresses.
    const gateway = await startGateway({ originUrl: origin.url, vars: { CLIENT_ADDRESS_HEADER: 'cf-connecting-ip' } });
    try {
      const statuses = [];
      for (let i = 0; i < 300; i++) statuses.push((await stats(gateway.url, `guess-${i}`, '198.51.100.7')).status);
      assert.deepEqual(tally(statuses), { 401: 10, 429: 290 });
      const right = await stats(gateway.url, TEST_ADMIN_SECRET, '198.51.100.7');
      assert.equal(right.status, 429, 'the right secret is not even looked at from a throttled address');
      assert.ok(Number(right.headers.get('retry-after')) >= 1);
      assert.equal((await stats(gateway.url, TEST_ADMIN_SECRET, '198.51.100.8')).status, 200, 'another address is not held off');
      // The audit keeps 200 rows per isolate per 2 s; the 300 guesses above may have filled this
      // interval's, so the next ones start a new interval and are audited under their addresses.
      await sleep(2_100);
      // Ten wrong guesses from each of ten more addresses: the total's limit (100) is reached.
      for (let a = 0; a < 10; a++) for (let i = 0; i < 10; i++) await stats(gateway.url, `spread-${a}-${i}`, `203.0.113.${a + 1}`);
      assert.equal((await stats(gateway.url, TEST_ADMIN_SECRET, '198.51.100.9')).status, 429, 'guessing from many addresses is throttled too');
      await sleep(2_500); // the audit queue's timed flush
      const audit = await gateway.db.prepare("SELECT count(*) AS n, count(DISTINCT identity) AS ids FROM audit WHERE method = 'admin/auth' AND status IN (401, 429)").first();
      // One row per refused attempt at most, under the trail's per-isolate budget.
      assert.ok(audit.n >= 100 && audit.n <= 402, `refused admin attempts audited: ${audit.n}`);
      assert.ok(audit.ids >= 2, `each under its address: ${audit.ids}`);
    } finally {
      await gateway.dispose();
    }
  });

  test('where no address can be believed, ten guesses from anyone do not hold the operator off', async () => {
    const gateway = await startGateway({ originUrl: origin.url });
    try {
      const statuses = [];
      for (let i = 0; i < 20; i++) statuses.push((await stats(gateway.url, `guess-${i}`, `198.51.100.${i}`)).status);
      assert.deepEqual(tally(statuses), { 401: 20 }, 'the total (100 a minute) is the only limit');
      assert.equal((await stats(gateway.url, TEST_ADMIN_SECRET, '198.51.100.99')).status, 200);
    } finally {
      await gateway.dispose();
    }
  });

  test('a secret weaker than 128 bits is refused by the configuration', async () => {
    for (const secret of ['hunter2hunter2hunter2', 'a'.repeat(64), '0123456789abcdef0123456789abcde']) {
      const gateway = await startGateway({ originUrl: origin.url, vars: { ADMIN_SECRET: secret } });
      try {
        const res = await fetch(`${gateway.url}/admin/api/stats`, { headers: { authorization: `Bearer ${secret}` } });
        assert.equal(res.status, 503, secret);
        assert.equal((await res.json()).error, 'gateway_misconfigured');
      } finally {
        await gateway.dispose();
      }
    }
  });
});
