// The operator's view: metrics aggregated without a write per request, the admin API, and the
// dashboard page in a real headless Chromium (Debian's, driven by playwright-core), after the
// gateway has served real challenge traffic: proof of work and L402 against a real LNbits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startOrigin } from '../demo/origin.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { ROOT, TEST_ADMIN_SECRET, startGateway } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { exhaust, redeem, solve } from './support/pow-flow.mjs';

const ADMIN = { authorization: `Bearer ${TEST_ADMIN_SECRET}` };
let origin, ln, gateway, token;

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
    const { client, close } = await connect(gateway.mcpUrl, { fetch: gatehouseFetch(), headers: { 'x-api-key': agent } });
    for (let i = 0; i < 8; i++) await client.callTool({ name: 'echo', arguments: { message: `${agent} ${i}` } });
    await close();
  }
  // ...one that pays an invoice, one that sends a wrong solution, and a token to revoke later.
  const paid = await exhaust(gateway.mcpUrl, { 'x-api-key': 'payer' });
  const [l402] = (await paid.json()).challenges;
  const preimage = await ln.pay(l402.invoice);
  assert.equal((await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage } }, { 'x-api-key': 'payer' })).status, 200);
  const denied = await exhaust(gateway.mcpUrl, { 'x-api-key': 'sloppy' });
  const pow = (await denied.json()).challenges.find((c) => c.type === 'pow');
  assert.equal((await redeem(pow.verify_url, { challenge_id: pow.challenge_id, solution: { nonce: '1' } }, { 'x-api-key': 'sloppy' })).status, 400);
  const bought = await redeem(pow.verify_url, { challenge_id: pow.challenge_id, solution: { nonce: await solve(pow) } }, { 'x-api-key': 'sloppy' });
  token = bought.body.access_token;
});

after(async () => {
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
  const put = (path, body) => fetch(`${gateway.url}${path}`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(body) });
  const refused = await put('/admin/api/policy', { pow_base_bits: 30 });
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).message, /min <= base <= max/);
  const changed = await put('/admin/api/policy', { pow_base_bits: 15, offers: ['pow'] });
  assert.equal(changed.status, 200);
  assert.equal((await changed.json()).pow_base_bits, 15);
  const next = await exhaust(gateway.mcpUrl, { 'x-api-key': 'after-change' });
  const offers = (await next.json()).challenges;
  assert.deepEqual(offers.map((c) => [c.type, c.difficulty]), [['pow', 15]], 'new 402s follow the runtime policy');
  assert.equal((await put('/admin/api/tiers', { client_id: 'x', tier: 'gold' })).status, 400, 'tiers need OAuth tiers to exist');
  const audit = await (await fetch(`${gateway.url}/admin/api/audit?identity=admin`, { headers: ADMIN })).json();
  assert.ok(audit.records.some((r) => r.method === 'admin/policy' && r.arguments.includes('"pow_base_bits":15')));
  assert.equal((await put('/admin/api/policy', { pow_base_bits: 14, offers: ['l402', 'pow'] })).status, 200);
});

test('the dashboard renders the same figures in Chromium, and revokes a token from the page', async () => {
  const api = await (await fetch(`${gateway.url}/admin/api/stats`, { headers: ADMIN })).json();
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TEST_ADMIN_SECRET }, viewport: { width: 1280, height: 1100 } });
    const page = await context.newPage();
    const external = [];
    page.on('request', (r) => { if (!r.url().startsWith(gateway.url)) external.push(r.url()); });
    await page.goto(`${gateway.url}/admin`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    const shown = await page.evaluate(() => Object.fromEntries(['total-requests', 'total-402-pow', 'total-402-l402', 'total-solved', 'total-failed', 'difficulty'].map((id) => [id, document.getElementById(id).textContent])));
    const solved = Object.values(api.totals.challenges_solved).reduce((a, b) => a + b, 0);
    assert.deepEqual(shown, {
      'total-requests': String(api.totals.requests),
      'total-402-pow': String(api.totals.payment_required_by_type.pow),
      'total-402-l402': String(api.totals.payment_required_by_type.l402),
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

    const use = () => fetch(gateway.mcpUrl, { method: 'POST', headers: { 'x-api-key': 'sloppy', 'x-access-token': token, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
    assert.notEqual((await use()).status, 401);
    await page.fill('#revoke-input', token);
    await page.click('#revoke-form button');
    await page.waitForSelector('#revoke-result[data-status="200"]');
    assert.equal((await use()).status, 401, 'the revoked token is refused');
    mkdirSync(join(ROOT, 'tests', 'artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'tests', 'artifacts', 'dashboard.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
