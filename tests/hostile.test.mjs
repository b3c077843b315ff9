// The attacker's suite (docs/threat-model.md): each way a hostile client got more than it paid
// for, or in sideways, sent against the built gateway in workerd with a real D1, real Durable
// Objects and a real LNbits, asserting the refusal and that nothing reached the origin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { startLnbits } from '../demo/lnbits.mjs';
import { TEST_ADMIN_SECRET, apiKey, startGateway, testKey } from './support/gateway.mjs';
import { solve } from './support/pow-flow.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const call = (id, name = 'echo', extra = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { message: `m${id}` }, ...extra } });
const batch = (n, name = 'echo') => Array.from({ length: n }, (_, i) => call(i + 1, name));
const remainingOf = (res) => Number(res.headers.get('ratelimit')?.match(/;r=(\d+)/)?.[1]);

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, body: json, text };
}

/** Calls until the gateway answers 402; returns that answer. */
async function exhaust(url, headers, limit = 200) {
  for (let i = 0; i < limit; i++) {
    const r = await post(url, call(i), headers);
    if (r.status === 402) return r;
  }
  throw new Error(`no 402 after ${limit} calls`);
}

async function redeemPow(gateway, challenge, headers) {
  return post(`${gateway.url}/api/verify-challenge`, { challenge_id: challenge.challenge_id, solution: { nonce: await solve(challenge) } }, headers);
}

async function tokenFor(gateway, headers) {
  const denied = await exhaust(gateway.mcpUrl, headers);
  const pow = denied.body.challenges.find((c) => c.type === 'pow');
  const redeemed = await redeemPow(gateway, pow, headers);
  assert.equal(redeemed.status, 200, redeemed.text);
  return redeemed.body.access_token;
}

const count = async (db, sql) => (await db.prepare(sql).first()).n;

describe('identities cost something to mint', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '5' } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('a fresh made-up key per request gets 401, never a fresh quota', async () => {
    const before = origin.seen.length;
    for (let i = 0; i < 30; i++) {
      const r = await post(gateway.mcpUrl, call(i), { 'x-api-key': `rotated-${i}-${randomBytes(4).toString('hex')}` });
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_api_key');
    }
    assert.equal(origin.seen.length, before, 'nothing reached the origin');
  });

  test('a key signed with another secret, or edited, is refused', async () => {
    const real = await apiKey(gateway, 'victim');
    const [head, body] = real.slice(3).split('.');
    const forged = `gk_${head}.${body}.${createHmac('sha256', 'not-the-gateway-secret').update(`${head}.${body}`).digest('base64url')}`;
    const claims = JSON.parse(Buffer.from(body, 'base64url'));
    const edited = `gk_${head}.${Buffer.from(JSON.stringify({ ...claims, id: 'someone-else' })).toString('base64url')}.${real.split('.')[2]}`;
    for (const key of [forged, edited, real.slice(3), `${real}x`]) {
      assert.equal((await post(gateway.mcpUrl, call(1), { 'x-api-key': key })).status, 401, key.slice(0, 20));
    }
  });

  test('an admin-minted key is one quota, however many requests share it, and never reaches the origin', async () => {
    const key = await apiKey(gateway, 'minted-once');
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await post(gateway.mcpUrl, call(i), { 'x-api-key': key })).status);
    assert.deepEqual(statuses.filter((s) => s === 200).length, 5, statuses.join());
    assert.ok(statuses.slice(5).every((s) => s === 402), statuses.join());
    assert.ok(origin.seen.every((s) => !Object.values(s.headers).some((v) => String(v).startsWith('gk_'))), 'the key is a gateway credential');
  });

  test('a revoked key is refused at once', async () => {
    const key = await apiKey(gateway, 'to-revoke');
    assert.equal((await post(gateway.mcpUrl, call(1), { 'x-api-key': key })).status, 200);
    const revoked = await post(`${gateway.url}/admin/api/keys/revoke`, { id: 'to-revoke' }, { authorization: `Bearer ${TEST_ADMIN_SECRET}` });
    assert.equal(revoked.status, 200);
    const r = await post(gateway.mcpUrl, call(2), { 'x-api-key': key });
    assert.deepEqual([r.status, r.body.error], [401, 'invalid_api_key']);
  });

  test('only the admin mints keys', async () => {
    const r = await post(`${gateway.url}/admin/api/keys`, { id: 'self-service' }, { authorization: 'Bearer guessed' });
    assert.equal(r.status, 401);
  });

  test('address-keyed IPv6 clients share one quota per /64', async () => {
    // As behind Cloudflare's edge, which sets the header itself.
    const g = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '3', CLIENT_ADDRESS_HEADER: 'cf-connecting-ip' } });
    try {
      const statuses = [];
      for (let i = 1; i <= 6; i++) {
        statuses.push((await post(g.mcpUrl, call(i), { 'cf-connecting-ip': `2001:db8:aa:bb::${i.toString(16)}:${randomBytes(2).toString('hex')}` })).status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 402, 402, 402]);
      const other = await post(g.mcpUrl, call(9), { 'cf-connecting-ip': '2001:db8:aa:cc::1' });
      assert.equal(other.status, 200, 'another /64 is another client');
    } finally {
      await g.dispose();
    }
  });

  test('an unverified header, opted into, is held to a per-address ceiling', async () => {
    const g = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-user', RATE_KEY_UNVERIFIED: 'true', QUOTA_PER_MINUTE: '5', ADDRESS_CEILING_PER_MINUTE: '10' } });
    try {
      const statuses = [];
      for (let i = 0; i < 30; i++) statuses.push((await post(g.mcpUrl, call(i), { 'x-user': `rotating-${i}` })).status);
      assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join());
      assert.ok(statuses.slice(10).every((s) => s === 429), 'past the ceiling, no challenge is minted either');
    } finally {
      await g.dispose();
    }
  });
});

describe('every call is paid for, on every path', () => {
  let origin, gateway;
  const POLICY = (url) => JSON.stringify({ origins: [{
    name: 'main', prefix: '/', url,
    quota: { per_minute: 3 },
    costs: [{ tool: 'heavy', weight: 5 }],
    limits: [{ name: 'heavy', tool: 'heavy', per_minute: 2 }],
    in_band: false,
  }] });
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { POLICY: POLICY(origin.url), RATE_KEY_HEADER: 'x-api-key', TOKEN_GRANT_REQUESTS: '60', POW_ADAPTIVE: 'false', MAX_BATCH_CALLS: '64' } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('a 2,000-call batch is refused whole with 413, before any credential is charged', async () => {
    const me = { 'x-api-key': testKey('batcher') };
    const token = await tokenFor(gateway, me);
    const before = origin.seen.length;
    const r = await post(gateway.mcpUrl, batch(2_000), { ...me, 'x-access-token': token });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, -32600);
    assert.equal(origin.seen.length, before);
    const one = await post(gateway.mcpUrl, call(1), { ...me, 'x-access-token': token });
    assert.equal(remainingOf(one), 59, 'the grant is untouched');
  });

  test('a token pays per call: a batch of 10 takes 10 of its grant', async () => {
    const me = { 'x-api-key': testKey('per-call') };
    const token = await tokenFor(gateway, me);
    const r = await post(gateway.mcpUrl, batch(10), { ...me, 'x-access-token': token });
    assert.equal(r.status, 200);
    assert.equal(remainingOf(r), 50);
  });

  test('a batch larger than what is left of the grant is refused whole, and charges nothing', async () => {
    const me = { 'x-api-key': testKey('overdraw') };
    const token = await tokenFor(gateway, me);
    assert.equal(remainingOf(await post(gateway.mcpUrl, batch(50), { ...me, 'x-access-token': token })), 10);
    const before = origin.calls().length;
    const r = await post(gateway.mcpUrl, batch(11), { ...me, 'x-access-token': token });
    assert.equal(r.status, 402, 'the grant cannot pay; the quota is spent: a new challenge');
    assert.equal(origin.calls().length, before);
    assert.equal(remainingOf(await post(gateway.mcpUrl, batch(10), { ...me, 'x-access-token': token })), 0);
  });

  test('cost weights apply to credentials: a weight-5 tool takes 5', async () => {
    const me = { 'x-api-key': testKey('weighted') };
    const token = await tokenFor(gateway, me);
    const r = await post(gateway.mcpUrl, call(1, 'heavy'), { ...me, 'x-access-token': token });
    assert.equal(r.status, 200);
    assert.equal(remainingOf(r), 55);
  });

  test('per-tool limits hold against credentials: a token cannot buy past them', async () => {
    const me = { 'x-api-key': testKey('limited') };
    const token = await tokenFor(gateway, me);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(gateway.mcpUrl, call(i, 'heavy'), { ...me, 'x-access-token': token })).status);
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const r = await post(gateway.mcpUrl, call(9), { ...me, 'x-access-token': token });
    assert.equal(remainingOf(r), 60 - 10 - 1, 'refused calls gave their units back');
  });
});

describe('one payment, one grant; challenges cost what they say', () => {
  let ln, origin, gateway;
  before(async () => {
    [ln, origin] = await Promise.all([startLnbits(), startRecordingOrigin()]);
    gateway = await startGateway({
      originUrl: origin.url,
      vars: {
        RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '20', POW_ADAPTIVE: 'false',
        CHALLENGE_OFFERS: 'l402,pow', L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey,
        L402_ROOT_KEY: 'l402-root-key-0123456789abcdef0123456789',
        POW_MIN_BITS: '12', BUDGET_REDUCED_TOOLS: 'echo', REDEEM_PER_MINUTE: '10',
      },
    });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); ln?.stop(); });

  const l402Offer = async (who) => (await exhaust(gateway.mcpUrl, { 'x-api-key': testKey(who) })).body.challenges.find((c) => c.type === 'l402');

  test('a preimage redeemed for a token no longer works as a credential', async () => {
    const me = { 'x-api-key': testKey('double-dip-1') };
    const offer = await l402Offer('double-dip-1');
    const preimage = await ln.pay(offer.invoice);
    const redeemed = await post(offer.verify_url, { challenge_id: offer.challenge_id, payment_proof: { preimage } }, me);
    assert.equal(redeemed.status, 200);
    const r = await post(gateway.mcpUrl, call(1), { authorization: `L402 ${offer.macaroon}:${preimage}` });
    assert.equal(r.status, 401);
  });

  test('a credential already used cannot be redeemed for a token', async () => {
    const me = { 'x-api-key': testKey('double-dip-2') };
    const offer = await l402Offer('double-dip-2');
    const preimage = await ln.pay(offer.invoice);
    assert.equal((await post(gateway.mcpUrl, call(1), { authorization: `L402 ${offer.macaroon}:${preimage}` })).status, 200);
    const redeemed = await post(offer.verify_url, { challenge_id: offer.challenge_id, payment_proof: { preimage } }, me);
    assert.deepEqual([redeemed.status, redeemed.body.error], [409, 'challenge_already_redeemed']);
  });

  test('racing the credential against the redemption gives one grant, never two', async () => {
    const me = { 'x-api-key': testKey('double-dip-3') };
    const offer = await l402Offer('double-dip-3');
    const preimage = await ln.pay(offer.invoice);
    const [asCredential, asRedemption] = await Promise.all([
      post(gateway.mcpUrl, call(1), { authorization: `L402 ${offer.macaroon}:${preimage}` }),
      post(offer.verify_url, { challenge_id: offer.challenge_id, payment_proof: { preimage } }, me),
    ]);
    assert.equal([asCredential.status === 200, asRedemption.status === 200].filter(Boolean).length, 1, `${asCredential.status} ${asRedemption.status}`);
  });

  test('an L402 credential pays per call too', async () => {
    const offer = await l402Offer('l402-batch');
    const preimage = await ln.pay(offer.invoice);
    const auth = { authorization: `L402 ${offer.macaroon}:${preimage}` };
    assert.equal(remainingOf(await post(gateway.mcpUrl, batch(15), auth)), 5);
    assert.equal((await post(gateway.mcpUrl, batch(6), auth)).status, 402, 'refused whole');
  });

  test('an exhausted client is offered its outstanding challenges again, not new rows and invoices', async () => {
    const me = { 'x-api-key': testKey('flood') };
    const first = await exhaust(gateway.mcpUrl, me);
    const rows = () => count(gateway.db, "SELECT COUNT(*) AS n FROM challenges WHERE client_key = 'key:flood'");
    const invoices = () => count(gateway.db, "SELECT COUNT(*) AS n FROM challenges WHERE client_key = 'key:flood' AND kind = 'l402'");
    const [rowsBefore, invoicesBefore] = [await rows(), await invoices()];
    const ids = new Set();
    for (let i = 0; i < 50; i++) {
      const r = await post(gateway.mcpUrl, call(i), me);
      assert.equal(r.status, 402);
      for (const c of r.body.challenges) ids.add(c.challenge_id);
    }
    assert.equal(await invoices() - invoicesBefore, 0, 'the same invoice throughout');
    // A repeat offender's proof of work gets harder (escalation), which takes a new puzzle each
    // time it does: at most POW_MAX_BITS - POW_BASE_BITS more rows (16 - 14 by default).
    assert.ok(await rows() - rowsBefore <= 2, `${await rows() - rowsBefore} new rows`);
    assert.ok(ids.size <= first.body.challenges.length + 2, `${ids.size} distinct challenges`);
  });

  test('no time budget buys a proof of work below POW_MIN_BITS', async () => {
    for (const budget of ['0', '0.000001', '0.001', '0.01']) {
      const r = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey(`budget-${budget}`), 'gatehouse-time-budget': budget });
      for (const c of r.body.challenges.filter((c) => c.type === 'pow')) assert.ok(c.difficulty >= 12, `budget ${budget}: ${c.difficulty} bits`);
    }
  });

  test('a challenge is redeemable only by the client it was issued to', async () => {
    const alice = { 'x-api-key': testKey('alice') };
    const pow = (await exhaust(gateway.mcpUrl, alice)).body.challenges.find((c) => c.type === 'pow');
    const stolen = await redeemPow(gateway, pow, { 'x-api-key': testKey('mallory') });
    assert.deepEqual([stolen.status, stolen.body.error], [404, 'challenge_not_found']);
    assert.equal((await redeemPow(gateway, pow, alice)).status, 200, 'the owner still can');
  });

  test('redemption attempts are metered per client', async () => {
    const me = { 'x-api-key': testKey('guesser') };
    const statuses = [];
    for (let i = 0; i < 14; i++) {
      statuses.push((await post(`${gateway.url}/api/verify-challenge`, { challenge_id: randomBytes(16).toString('hex'), solution: { nonce: String(i) } }, me)).status);
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(404));
    assert.ok(statuses.slice(10).every((s) => s === 429), statuses.join());
  });
});

describe('reduced grants admit only their allow-list', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '1', POW_ADAPTIVE: 'false', POW_MIN_BITS: '8', POW_BASE_BITS: '18', POW_MAX_BITS: '18', BUDGET_REDUCED_TOOLS: 'echo' } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('only the listed tools and methods, nothing else', async () => {
    const me = { 'x-api-key': testKey('hurried'), 'gatehouse-time-budget': '0.05' };
    const denied = await exhaust(gateway.mcpUrl, me);
    const [pow] = denied.body.challenges;
    assert.equal(pow.grant, 'reduced');
    const { body } = await redeemPow(gateway, pow, me);
    const as = { ...me, 'x-access-token': body.access_token };
    assert.equal((await post(gateway.mcpUrl, call(1, 'echo'), as)).status, 200);
    assert.equal((await post(gateway.mcpUrl, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, as)).status, 200);
    for (const m of [
      call(3, 'delete_everything'),
      { jsonrpc: '2.0', id: 4, method: 'resources/read', params: { uri: 'file:///etc/passwd' } },
      { jsonrpc: '2.0', id: 5, method: 'prompts/get', params: { name: 'echo' } },
      [call(6, 'echo'), { jsonrpc: '2.0', id: 7, method: 'resources/list' }],
    ]) {
      const r = await post(gateway.mcpUrl, m, as);
      assert.deepEqual([r.status, r.body.error], [403, 'token_scope'], JSON.stringify(m));
    }
  });
});

describe('an in-band token never reaches the origin', () => {
  let origin, gateway;
  before(async () => {
    origin = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '100' } });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); });

  test('stripped with a header token beside it, and on a route that is not in-band', async () => {
    const secret = 'eyJhbGciOiJIUzI1NiJ9.stolen.token';
    for (const extra of [{}, { 'x-access-token': 'something' }]) {
      const r = await post(gateway.mcpUrl, call(1, 'echo', { _meta: { 'gatehouse/access_token': secret, progressToken: 7 } }), extra);
      assert.ok(r.status === 200 || r.status === 401, `${r.status}`);
    }
    const leaked = origin.seen.filter((s) => s.raw.includes(secret));
    assert.equal(leaked.length, 0);
    const forwarded = origin.seen.at(-1);
    if (forwarded) assert.equal(forwarded.parsed.params._meta.progressToken, 7, 'the rest of _meta passes');
  });
});

describe('the cost of 1,000 hostile requests nobody paid for', () => {
  let ln, origin, gateway;
  before(async () => {
    [ln, origin] = await Promise.all([startLnbits(), startRecordingOrigin()]);
    gateway = await startGateway({
      originUrl: origin.url,
      vars: {
        RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '5', TOKEN_GRANT_REQUESTS: '20', POW_ADAPTIVE: 'false',
        CHALLENGE_OFFERS: 'l402,pow', L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey,
        L402_ROOT_KEY: 'l402-root-key-0123456789abcdef0123456789',
      },
    });
  });
  after(async () => { await gateway?.dispose(); await origin?.close(); ln?.stop(); });

  test('rows and invoices stay bounded, whatever the mix', async () => {
    const attacker = { 'x-api-key': testKey('attacker') };
    const token = await tokenFor(gateway, attacker);
    const tables = ['challenges', 'audit', 'revoked_tokens'];
    const rows = async () => (await Promise.all(tables.map((t) => count(gateway.db, `SELECT COUNT(*) AS n FROM ${t}`)))).reduce((a, b) => a + b, 0);
    const auditRows = () => count(gateway.db, 'SELECT COUNT(*) AS n FROM audit');
    const invoices = () => count(gateway.db, "SELECT COUNT(*) AS n FROM challenges WHERE kind = 'l402'");
    const [rowsBefore, invoicesBefore, auditBefore] = [await rows(), await invoices(), await auditRows()];
    const kinds = [
      // A made-up key per request.
      (i) => post(gateway.mcpUrl, call(i), { 'x-api-key': `made-up-${i}` }),
      // The same exhausted client, over and over.
      (i) => post(gateway.mcpUrl, call(i), attacker),
      // Batches bigger than the grant, on a real token, and past the call cap.
      (i) => post(gateway.mcpUrl, batch(i % 2 ? 25 : 65), { ...attacker, 'x-access-token': token }),
      // Guessed challenge ids.
      (i) => post(`${gateway.url}/api/verify-challenge`, { challenge_id: randomBytes(16).toString('hex'), solution: { nonce: String(i) } }, attacker),
      // Parser tricks.
      (i) => post(gateway.mcpUrl, `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"echo","_meta":{"x":"\\ud800"}}}`, attacker),
    ];
    const N = 1_000;
    const statuses = new Map();
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < N) {
        const i = next++;
        const { status } = await kinds[i % kinds.length](i);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    // Audit rows are batched per isolate; let the last batch land.
    await fetch(`${gateway.url}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } });
    const [written, created] = [await rows() - rowsBefore, await invoices() - invoicesBefore];
    console.log(`1,000 hostile requests at concurrency 8: ${(N / seconds).toFixed(0)} requests/s; D1 rows written ${written} (challenges, audit, revocations); invoices created ${created}; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(!statuses.has(200), 'nothing was admitted');
    assert.ok(created <= 1, `${created} invoices`);
    // The audit trail writes at most MAX_ROWS_PER_INTERVAL rows (and one row counting the rest)
    // per isolate per 2 s flush interval (`audit::bounds`), however many calls were refused; the
    // other tables take a handful of challenges (escalation) and no revocation. So the rows grow
    // with the time the burst took, never with what it sent.
    const audited = await auditRows() - auditBefore;
    const intervals = Math.ceil(seconds / 2) + 1;
    assert.ok(audited <= intervals * 201, `${audited} audit rows in ${intervals} intervals`);
    assert.ok(written - audited <= 20, `${written - audited} rows beside the audit trail`);
  });
});
