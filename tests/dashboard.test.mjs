// The operator's view: metrics aggregated without a write per request, the admin API, and the
// dashboard page in a real headless Chromium (Debian's, driven by playwright-core), after the
// gateway has served real challenge traffic: proof of work and L402 against a real LNbits. The
// page is opened every way an operator opens it, and a page on another site tries to use the
// browser's cached admin credentials against it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startOrigin } from '../demo/origin.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { ROOT, TEST_ADMIN_SECRET, startGateway, testKey } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { exhaust, redeem, solve } from './support/pow-flow.mjs';

const ADMIN = { authorization: `Bearer ${TEST_ADMIN_SECRET}` };
const JSON_BODY = { 'content-type': 'application/json' };
const BASIC = { username: 'admin', password: TEST_ADMIN_SECRET };
let origin, ln, gateway, token, victim, browser, attacker;

const jtiOf = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url')).jti;
const use = (key, t) => fetch(gateway.mcpUrl, { method: 'POST', headers: { 'x-api-key': testKey(key), 'x-access-token': t, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });

/** A page on another site (localhost is not 127.0.0.1's site) that serves whatever `html` is set to. */
async function startAttacker() {
  const site = { html: '' };
  const server = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(site.html));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  site.url = `http://localhost:${server.address().port}/`;
  site.close = () => new Promise((r) => server.close(r));
  return site;
}

before(async () => {
  [origin, ln] = await Promise.all([startOrigin(), startLnbits()]);
  gateway = await startGateway({
    originUrl: origin.url,
    vars: {
      QUOTA_PER_MINUTE: '5', RATE_KEY_HEADER: 'x-api-key', CHALLENGE_OFFERS: 'l402,pow', POW_ADAPTIVE: 'false',
      L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY: 'dashboard-root-key-0123456789abcdef0123',
    },
  });
  // Real challenge traffic: agents that solve proof of work through the wrapper...
  for (const agent of ['agent-a', 'agent-b']) {
    const { client, close } = await connect(gateway.mcpUrl, { fetch: gatehouseFetch(), headers: { 'x-api-key': testKey(agent) } });
    for (let i = 0; i < 8; i++) await client.callTool({ name: 'echo', arguments: { message: `${agent} ${i}` } });
    await close();
  }
  // ...one that pays an invoice, one that sends a wrong solution, and a token to revoke later.
  const paid = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('payer') });
  const [l402] = (await paid.json()).challenges;
  const preimage = await ln.pay(l402.invoice);
  assert.equal((await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage } }, { 'x-api-key': testKey('payer') })).status, 200);
  const denied = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('sloppy') });
  const pow = (await denied.json()).challenges.find((c) => c.type === 'pow');
  assert.equal((await redeem(pow.verify_url, { challenge_id: pow.challenge_id, solution: { nonce: '1' } }, { 'x-api-key': testKey('sloppy') })).status, 400);
  const bought = await redeem(pow.verify_url, { challenge_id: pow.challenge_id, solution: { nonce: await solve(pow) } }, { 'x-api-key': testKey('sloppy') });
  token = bought.body.access_token;
  const victimDenied = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('victim') });
  const victimPow = (await victimDenied.json()).challenges.find((c) => c.type === 'pow');
  victim = (await redeem(victimPow.verify_url, { challenge_id: victimPow.challenge_id, solution: { nonce: await solve(victimPow) } }, { 'x-api-key': testKey('victim') })).body.access_token;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  attacker = await startAttacker();
});

after(async () => {
  await browser?.close();
  await attacker?.close();
  await gateway?.dispose();
  await origin?.close();
  ln?.stop();
});

test('the admin API reports the run: requests, 402s by type, solves, failures, top clients', async () => {
  const stats = await (await fetch(`${gateway.url}/admin/api/stats`, { headers: ADMIN })).json();
  const t = stats.totals;
  assert.ok(t.requests >= 20, `${t.requests} requests`);
  assert.ok(t.payment_required_by_type.pow >= 4 && t.payment_required_by_type.l402 >= 4, JSON.stringify(t.payment_required_by_type));
  assert.ok(t.challenges_solved.pow >= 3, JSON.stringify(t.challenges_solved));
  assert.equal(t.challenges_solved.l402, 1);
  assert.equal(t.challenges_failed.pow, 1);
  assert.equal(stats.solve_ms.count, t.challenges_solved.pow + t.challenges_solved.l402);
  assert.equal(stats.current_difficulty, 14);
  assert.ok(stats.top_throttled.some((c) => c.identity.startsWith('key:')));
  assert.ok(stats.per_route_and_tool.some((r) => r.tool === 'echo' && r.requests > 0));
  const unauthorized = await fetch(`${gateway.url}/admin/api/stats`);
  assert.equal(unauthorized.status, 401);
  assert.match(unauthorized.headers.get('www-authenticate'), /^Basic realm=/);
});

test('runtime policy and client tiers change through the admin API, and each change is audited', async () => {
  const put = (path, body) => fetch(`${gateway.url}${path}`, { method: 'PUT', headers: { ...ADMIN, ...JSON_BODY }, body: JSON.stringify(body) });
  const refused = await put('/admin/api/policy', { pow_base_bits: 30 });
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).message, /min <= base <= max/);
  const changed = await put('/admin/api/policy', { pow_base_bits: 15, offers: ['pow'] });
  assert.equal(changed.status, 200);
  assert.equal((await changed.json()).pow_base_bits, 15);
  const next = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('after-change') });
  const offers = (await next.json()).challenges;
  assert.deepEqual(offers.map((c) => [c.type, c.difficulty]), [['pow', 15]], 'new 402s follow the runtime policy');
  assert.equal((await put('/admin/api/tiers', { client_id: 'x', tier: 'gold' })).status, 400, 'tiers need OAuth tiers to exist');
  const audit = await (await fetch(`${gateway.url}/admin/api/audit?identity=admin`, { headers: ADMIN })).json();
  assert.ok(audit.records.some((r) => r.method === 'admin/policy' && r.arguments.includes('"pow_base_bits":15')));
  assert.equal((await put('/admin/api/policy', { pow_base_bits: 14, offers: ['l402', 'pow'] })).status, 200);
});

test('the dashboard renders the same figures in Chromium, and revokes a token from the page', async () => {
  const api = await (await fetch(`${gateway.url}/admin/api/stats`, { headers: ADMIN })).json();
  const context = await browser.newContext({ httpCredentials: BASIC, viewport: { width: 1280, height: 1100 } });
  try {
    const page = await context.newPage();
    const external = [];
    page.on('request', (r) => { if (!r.url().startsWith(gateway.url)) external.push(r.url()); });
    await page.goto(`${gateway.url}/admin`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    const shown = await page.evaluate(() => Object.fromEntries(['total-requests', 'total-402-pow', 'total-402-l402', 'total-402-x402', 'total-solved', 'total-failed', 'difficulty'].map((id) => [id, document.getElementById(id).textContent])));
    const solved = Object.values(api.totals.challenges_solved).reduce((a, b) => a + b, 0);
    assert.deepEqual(shown, {
      'total-requests': String(api.totals.requests),
      'total-402-pow': String(api.totals.payment_required_by_type.pow),
      'total-402-l402': String(api.totals.payment_required_by_type.l402),
      'total-402-x402': String(api.totals.payment_required_by_type.x402),
      'total-solved': String(solved),
      'total-failed': String(api.totals.challenges_failed.pow),
      difficulty: String(api.current_difficulty),
    });
    for (const chart of ['chart-requests', 'chart-402', 'chart-solved', 'chart-percentiles', 'chart-difficulty']) {
      const points = Number(await page.getAttribute(`#${chart}`, 'data-points'));
      assert.ok(points > 0, `${chart} drew ${points} points`);
    }
    assert.ok(await page.locator('#top-clients tr').count() > 0);
    assert.deepEqual(external, [], 'no request leaves the gateway (no CDN)');

    assert.notEqual((await use('sloppy', token)).status, 401);
    await page.fill('#revoke-input', token);
    await page.click('#revoke-form button');
    await page.waitForSelector('#revoke-result[data-status="200"]');
    assert.equal((await use('sloppy', token)).status, 401, 'the revoked token is refused');

    // An API key minted on the page admits its holder; revoked on the page, it no longer does.
    await page.fill('#key-id', 'dashboard-agent');
    await page.click('#key-form button');
    await page.waitForSelector('#key-result[data-status="201"]');
    const key = await page.getAttribute('#key-result', 'data-key');
    const withKey = () => fetch(gateway.mcpUrl, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    assert.notEqual((await withKey()).status, 401);
    await page.fill('#key-revoke-id', 'dashboard-agent');
    await page.click('#key-revoke-form button');
    await page.waitForSelector('#key-revoke-result[data-status="200"]');
    assert.equal((await withKey()).status, 401, 'the revoked key is refused');
    mkdirSync(join(ROOT, 'tests', 'artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'tests', 'artifacts', 'dashboard.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('the dashboard works opened with credentials in the URL, and with a bearer', async () => {
  const { hostname, port } = new URL(gateway.url);
  const ways = [
    ['credentials in the URL', {}, `http://admin:${TEST_ADMIN_SECRET}@${hostname}:${port}/admin`],
    ['a bearer set by the opener', { extraHTTPHeaders: ADMIN }, `${gateway.url}/admin`],
  ];
  for (const [way, options, url] of ways) {
    const context = await browser.newContext(options);
    try {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.goto(url);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 }).catch(async () => {
        assert.fail(`${way}: the page never loaded its data; status "${await page.textContent('#status')}", errors ${JSON.stringify(errors)}`);
      });
      const requests = Number(await page.textContent('#total-requests'));
      assert.ok(requests >= 20, `${way}: shows ${requests} requests`);
      assert.deepEqual(errors, [], way);
    } finally {
      await context.close();
    }
  }
});

test('state-changing admin calls need a JSON body and this origin, whatever the credentials', async () => {
  const revoke = (headers) => fetch(`${gateway.url}/admin/api/revoke`, { method: 'POST', headers: { ...ADMIN, ...headers }, body: JSON.stringify({ jti: jtiOf(victim), reason: 'probe' }) });
  const plain = await revoke({ 'content-type': 'text/plain' });
  assert.equal(plain.status, 415);
  assert.equal(plain.headers.get('accept'), 'application/json');
  assert.equal((await revoke({})).status, 415, 'no content type at all');
  const elsewhere = await revoke({ ...JSON_BODY, origin: 'https://evil.example' });
  assert.equal(elsewhere.status, 403);
  assert.equal((await elsewhere.json()).error, 'cross_origin_refused');
  assert.equal((await revoke({ ...JSON_BODY, 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await revoke({ ...JSON_BODY, 'sec-fetch-site': 'same-site' })).status, 403);
  const put = await fetch(`${gateway.url}/admin/api/policy`, { method: 'PUT', headers: { ...ADMIN, 'content-type': 'text/plain' }, body: JSON.stringify({ pow_base_bits: 16 }) });
  assert.equal(put.status, 415);
  assert.equal((await (await fetch(`${gateway.url}/admin/api/policy`, { headers: ADMIN })).json()).pow_base_bits, 14, 'the policy is unchanged');
  assert.notEqual((await use('victim', victim)).status, 401, 'none of that revoked anything');
});

test('a page on another site cannot revoke through the browser\'s cached credentials, nor frame the dashboard', async () => {
  const context = await browser.newContext({ httpCredentials: BASIC });
  try {
    // The operator has the dashboard open, so the browser holds the Basic credentials.
    const page = await context.newPage();
    await page.goto(`${gateway.url}/admin`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });

    // A text/plain form is the one way a page elsewhere can post a JSON-looking body cross-site
    // without a preflight: `name=value` with the `=` inside a string.
    const jti = jtiOf(victim);
    attacker.html = `<form method="POST" action="${gateway.url}/admin/api/revoke" enctype="text/plain">
      <input type="hidden" name='{"jti":"${jti}","reason":"csrf","pad":"' value='"}'></form>
      <script>document.forms[0].submit()</script>`;
    const evil = await context.newPage();
    const posted = evil.waitForRequest((r) => r.url() === `${gateway.url}/admin/api/revoke`);
    const answered = evil.waitForResponse((r) => r.url() === `${gateway.url}/admin/api/revoke`);
    await evil.goto(attacker.url);
    const request = await posted;
    const response = await answered;
    const sent = await request.allHeaders();
    assert.equal(request.method(), 'POST');
    assert.match(sent['content-type'], /^text\/plain/);
    assert.match(sent.authorization ?? '', /^Basic /, 'the browser attached the cached credentials');
    assert.equal(sent.origin, attacker.url.slice(0, -1), 'the browser says where it came from');
    assert.equal(response.status(), 403);
    assert.notEqual((await use('victim', victim)).status, 401, 'the token was not revoked');
    assert.equal(await gateway.db.prepare('SELECT COUNT(*) AS n FROM revoked_tokens WHERE jti = ?1').bind(jti).first('n'), 0, 'nothing was written');

    // Framing: every admin answer forbids it, and Chromium does not render the dashboard inside
    // the other site's page.
    for (const path of ['/admin', '/admin/api/stats']) {
      for (const headers of [ADMIN, {}]) {
        const res = await fetch(`${gateway.url}${path}`, { headers });
        assert.equal(res.headers.get('x-frame-options'), 'DENY', `${path} ${res.status}`);
        assert.match(res.headers.get('content-security-policy'), /(^|; )frame-ancestors 'none'$/, `${path} ${res.status}`);
      }
    }
    const dashboard = await fetch(`${gateway.url}/admin`, { headers: ADMIN });
    assert.match(dashboard.headers.get('content-security-policy'), /^default-src 'none'; .*connect-src 'self'/, 'the page keeps its own policy');
    attacker.html = `<iframe src="${gateway.url}/admin" width="800" height="600"></iframe>`;
    const framer = await context.newPage();
    const framed = framer.waitForResponse((r) => r.url() === `${gateway.url}/admin`);
    await framer.goto(attacker.url);
    assert.equal((await framed).headers()['x-frame-options'], 'DENY');
    const child = framer.frames().find((f) => f !== framer.mainFrame());
    assert.equal(await child.locator('#total-requests').count(), 0, 'the dashboard did not render in the frame');
  } finally {
    await context.close();
  }
});
