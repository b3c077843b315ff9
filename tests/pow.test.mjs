// The 402 loop end to end: quota in a real Durable Object, challenges in a real D1, redemption,
// tokens checked in the isolate, and the official MCP SDK client healing itself with the wrapper.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOrigin } from '../demo/origin.mjs';
import { gatehouseFetch, digest, leadingZeroBits, solvePow } from '../clients/js/index.mjs';
import { ROOT, TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { JSON_RPC_CALL, exhaust, redeem, redeem as redeemAs, solve } from './support/pow-flow.mjs';

test('the JS solver meets the published vectors', async () => {
  const vectors = JSON.parse(readFileSync(join(ROOT, 'docs', 'pow-vectors.json'), 'utf8'));
  for (const v of vectors) {
    assert.equal(digest(v.salt, v.nonce).toString('hex'), v.sha256);
    assert.ok(leadingZeroBits(digest(v.salt, v.nonce)) >= v.difficulty);
    assert.equal(await solvePow(v.salt, v.difficulty), v.nonce);
  }
});

test('the Python flow\'s rule and solver meet the published vectors', async () => {
  const { execFile } = await import('node:child_process');
  const vectors = join(ROOT, 'docs', 'pow-vectors.json');
  const python = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
  const out = await new Promise((resolve, reject) => execFile(python, [join(ROOT, 'tests', 'python_kit_client.py'), 'pow-vectors', vectors], { timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
  assert.equal(JSON.parse(out.trim().split('\n').at(-1)).checked, JSON.parse(readFileSync(vectors, 'utf8')).length);
});

describe('quota exhaustion and the proof-of-work challenge', () => {
  let origin, gateway;
  const toolCalls = [];
  before(async () => {
    origin = await startOrigin({ onRequest: (r) => r.method === 'POST' && toolCalls.push(r) });
    gateway = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '60', TOKEN_GRANT_REQUESTS: '60', POW_ADAPTIVE: 'false', REDEEM_PER_MINUTE: '1000' } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('a stock MCP client with the wrapper makes 200 tool calls against 60/min with zero failures', async () => {
    const events = [];
    const fetch = gatehouseFetch({ onEvent: (e) => events.push(e) });
    const { client, close } = await connect(gateway.mcpUrl, { fetch, headers: { 'x-api-key': testKey('agent-200') } });
    let ok = 0;
    for (let i = 0; i < 200; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
      assert.equal(r.content[0].text, `call ${i}`);
      ok++;
    }
    await close();
    assert.equal(ok, 200);
    const redeemed = events.filter((e) => e.type === 'redeemed').length;
    // 60 fit the quota (initialize and its notification count too); each token grants 60 more.
    assert.ok(redeemed >= 3 && redeemed <= 4, `${redeemed} tokens redeemed`);
    console.log(`wrapper: 200 calls, ${redeemed} challenges solved, solve ms: ${events.filter((e) => e.type === 'solved').map((e) => e.ms).join(', ')}`);
  });

  test('the 402 carries the challenge in WWW-Authenticate, the body and rate-limit headers', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('shape') });
    assert.equal(res.status, 402);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 61, `retry-after ${retryAfter}`);
    assert.equal(res.headers.get('ratelimit-policy'), '"minute";q=60;w=60');
    assert.equal(res.headers.get('ratelimit'), `"minute";r=0;t=${retryAfter}`);
    const www = res.headers.get('www-authenticate');
    const body = await res.json();
    const [c] = body.challenges;
    assert.equal(www, `PoW challenge_id="${c.challenge_id}", salt="${c.salt}", difficulty=${c.difficulty}, algorithm="sha256", expires="${c.expires_at}"`);
    assert.equal(body.error, 'quota_exhausted');
    assert.equal(body.type, 'pow');
    assert.equal(body.challenge_id, c.challenge_id);
    assert.equal(body.retry_after, retryAfter);
    assert.match(body.instructions, /leading zero bits/);
    assert.equal(c.difficulty, 14);
    assert.equal(c.estimated_hashes, 2 ** 14);
    assert.equal(c.verify_url, `${gateway.url}/api/verify-challenge`);
    assert.ok(c.expires_at - Date.now() / 1000 > 55 && c.expires_at - Date.now() / 1000 <= 61);
  });

  test('redemption errors: unknown 404, wrong work 400, malformed 400, oversized 413', async () => {
    const me = { 'x-api-key': testKey('errors') };
    const res = await exhaust(gateway.mcpUrl, me);
    const [c] = (await res.json()).challenges;
    const redeem = (url, body) => redeemAs(url, body, me);
    const unknown = await redeem(c.verify_url, { challenge_id: 'f'.repeat(32), solution: { nonce: '1' } });
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'challenge_not_found']);
    let wrong = 0;
    while (leadingZeroBits(digest(c.salt, String(wrong))) >= c.difficulty) wrong++;
    const bad = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: String(wrong) } });
    assert.deepEqual([bad.status, bad.body.error], [400, 'invalid_solution']);
    for (const body of ['not json', '{}', JSON.stringify({ challenge_id: c.challenge_id, solution: { nonce: '-5' } })]) {
      const r = await redeem(c.verify_url, body);
      assert.deepEqual([r.status, r.body.error], [400, 'invalid_request'], body);
    }
    const huge = await redeem(c.verify_url, JSON.stringify({ challenge_id: c.challenge_id, pad: 'x'.repeat(10_000) }));
    assert.deepEqual([huge.status, huge.body.error], [413, 'payload_too_large']);
    const get = await fetch(c.verify_url);
    assert.equal(get.status, 405);
    // The failed attempts spent nothing: the right answer still redeems.
    const good = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } });
    assert.equal(good.status, 200);
    assert.equal(good.body.token_type, 'Gatehouse');
    assert.equal(good.body.expires_in, 300);
    assert.equal(good.body.grant, 60);
  });

  test('50 concurrent redemptions of one solution give exactly one token', async () => {
    const me = { 'x-api-key': testKey('race') };
    const res = await exhaust(gateway.mcpUrl, me);
    const [c] = (await res.json()).challenges;
    const nonce = await solve(c);
    const results = await Promise.all(Array.from({ length: 50 }, () => redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce } }, me)));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 409).length, 49);
    assert.ok(results.filter((r) => r.status === 409).every((r) => r.body.error === 'challenge_already_redeemed'));
  });

  test('a token is bound to its client: another user agent or key gets 401', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('bound'), 'user-agent': 'agent-a' });
    const [c] = (await res.json()).challenges;
    const { body } = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, { 'x-api-key': testKey('bound'), 'user-agent': 'agent-a' });
    const call = (headers) => fetch(gateway.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-access-token': body.access_token, ...headers }, body: JSON_RPC_CALL });
    const mine = await call({ 'x-api-key': testKey('bound'), 'user-agent': 'agent-a' });
    assert.notEqual(mine.status, 401);
    assert.match(mine.headers.get('ratelimit'), /^"token";r=59;t=\d+$/);
    for (const other of [{ 'x-api-key': testKey('bound'), 'user-agent': 'agent-b' }, { 'x-api-key': testKey('thief'), 'user-agent': 'agent-a' }]) {
      const r = await call(other);
      assert.equal(r.status, 401);
      assert.equal((await r.json()).error, 'invalid_or_expired_token');
    }
    const forged = body.access_token.slice(0, -2) + (body.access_token.endsWith('AA') ? 'AB' : 'AA');
    const f = await fetch(gateway.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-access-token': forged, 'x-api-key': testKey('bound'), 'user-agent': 'agent-a' }, body: JSON_RPC_CALL });
    assert.equal(f.status, 401);
  });

  test('a revoked token is refused: at once via the admin API, within 10 s when another isolate revokes it', async () => {
    const tokenFor = async (key) => {
      const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey(key) });
      const [c] = (await res.json()).challenges;
      return (await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, { 'x-api-key': testKey(key) })).body.access_token;
    };
    const use = (key, token) => fetch(gateway.mcpUrl, { method: 'POST', headers: { 'x-api-key': testKey(key), 'x-access-token': token, 'content-type': 'application/json' }, body: JSON_RPC_CALL });
    const jtiOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).jti;

    const t1 = await tokenFor('revoke-1');
    assert.notEqual((await use('revoke-1', t1)).status, 401);
    const unauthorized = await fetch(`${gateway.url}/admin/api/revoke`, { method: 'POST', headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' }, body: JSON.stringify({ token: t1 }) });
    assert.equal(unauthorized.status, 401);
    const revoke = await fetch(`${gateway.url}/admin/api/revoke`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ token: t1, reason: 'test' }) });
    assert.equal(revoke.status, 200);
    assert.equal((await revoke.json()).revoked, jtiOf(t1));
    assert.equal((await use('revoke-1', t1)).status, 401);

    // Another isolate's revocation reaches this one through D1 alone.
    const t2 = await tokenFor('revoke-2');
    assert.notEqual((await use('revoke-2', t2)).status, 401);
    const now = Date.now();
    await gateway.db.prepare('INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3)').bind(jtiOf(t2), now + 300_000, now).run();
    let refusedAfter = null;
    while (Date.now() - now < 12_000) {
      if ((await use('revoke-2', t2)).status === 401) { refusedAfter = Date.now() - now; break; }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(refusedAfter !== null && refusedAfter <= 10_000, `refused after ${refusedAfter} ms`);
    console.log(`revocation from another isolate honoured after ${refusedAfter} ms`);
  });

  test('a token admits exactly its grant, then the client gets a fresh 402', async () => {
    const g = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: '3', TOKEN_GRANT_REQUESTS: '5' } });
    try {
      const headers = { 'x-api-key': testKey('grant'), 'content-type': 'application/json' };
      const res = await exhaust(g.mcpUrl, headers);
      const [c] = (await res.json()).challenges;
      const { body } = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, headers);
      const statuses = await Promise.all(Array.from({ length: 20 }, () =>
        fetch(g.mcpUrl, { method: 'POST', headers: { ...headers, 'x-access-token': body.access_token }, body: JSON_RPC_CALL }).then(async (r) => { await r.arrayBuffer(); return r.status; })));
      const admitted = statuses.filter((s) => s !== 402).length;
      console.log(`grant 5, 20 concurrent uses: ${admitted} admitted (overshoot ${admitted - 5})`);
      assert.equal(admitted, 5, `statuses ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 402).length, 15);
    } finally {
      await g.dispose();
    }
  });
});

test('a solution after the challenge TTL gets 410', async () => {
  const origin = await startOrigin();
  const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', CHALLENGE_TTL_SECONDS: '5' } });
  try {
    const res = await exhaust(gateway.mcpUrl);
    const [c] = (await res.json()).challenges;
    const nonce = await solve(c);
    await new Promise((r) => setTimeout(r, c.expires_at * 1000 - Date.now() + 250));
    const late = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce } });
    assert.deepEqual([late.status, late.body.error], [410, 'challenge_expired']);
  } finally {
    await gateway.dispose();
    await origin.close();
  }
});

test('a client written from docs/agents.md alone, in Python, solves, redeems and gets through', async () => {
  const { execFile } = await import('node:child_process');
  const origin = await startOrigin();
  const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '5', RATE_KEY_HEADER: 'x-api-key' } });
  try {
    const out = await new Promise((resolve, reject) => execFile('python3', [join(ROOT, 'tests', 'independent_client.py'), gateway.mcpUrl, 'x-api-key', testKey('python-agent')], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
    const result = JSON.parse(out);
    assert.equal(result.status_with_token, 200);
    assert.match(result.ratelimit, /^"token";r=59;t=\d+$/);
  } finally {
    await gateway.dispose();
    await origin.close();
  }
});
