// What a challenge costs: stated estimates, escalation for repeat offenders, offers fitted to a
// client's time budget (with the reduced-grant fallback), and the adaptive controller moving the
// difficulty under load.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../demo/origin.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { redeem, solve } from './support/pow-flow.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'adaptive-test', version: '1' } } });
const call = (tool, args = {}) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args } });

let origin;
before(async () => { origin = await startOrigin(); });
after(async () => { await origin?.close(); });

async function denial(url, headers, body = INIT) {
  for (let i = 0; i < 5; i++) {
    const res = await fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body });
    if (res.status === 402) return (await res.json()).challenges;
    await res.arrayBuffer();
  }
  throw new Error('no 402');
}

describe('fixed difficulty', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({
      originUrl: origin.url,
      vars: { QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', POW_MAX_BITS: '17', BUDGET_REDUCED_TOOLS: 'echo', BUDGET_REDUCED_TTL_SECONDS: '900' },
    });
  });
  after(async () => gateway?.dispose());

  test('each 402 states its expected cost against a named reference rate', async () => {
    const [c] = await denial(gateway.mcpUrl, { 'x-api-key': testKey('estimates') });
    assert.equal(c.reference_hash_rate, 1_500_000);
    assert.equal(c.estimated_hashes, 2 ** c.difficulty);
    assert.ok(Math.abs(c.estimated_cpu_seconds - 2 ** c.difficulty / 1_500_000) < 1e-6);
  });

  test('a repeat offender pays more, up to the maximum; others do not', async () => {
    const seen = [];
    for (let i = 0; i < 20; i++) seen.push((await denial(gateway.mcpUrl, { 'x-api-key': testKey('offender') }))[0].difficulty);
    assert.deepEqual(seen.slice(0, 4), [14, 14, 14, 14], 'four denials are free of escalation');
    assert.ok(seen.every((d, i) => i === 0 || d >= seen[i - 1]), `never easier: ${seen}`);
    assert.equal(seen.at(-1), 17, `reaches POW_MAX_BITS: ${seen}`);
    assert.equal((await denial(gateway.mcpUrl, { 'x-api-key': testKey('bystander') }))[0].difficulty, 14);
  });

  test('a budget the work fits keeps it; one too tight buys an easier puzzle for a reduced grant', async () => {
    const [roomy] = await denial(gateway.mcpUrl, { 'x-api-key': testKey('roomy'), 'gatehouse-time-budget': '10' });
    assert.equal(roomy.difficulty, 14);
    assert.equal(roomy.grant, undefined);

    const headers = { 'x-api-key': testKey('hurried'), 'gatehouse-time-budget': '0.01' };
    const [tight] = await denial(gateway.mcpUrl, headers);
    assert.equal(tight.grant, 'reduced');
    assert.ok(tight.difficulty < 14 && tight.estimated_cpu_seconds * 3 <= 0.01, JSON.stringify(tight));
    const bought = await redeem(tight.verify_url, { challenge_id: tight.challenge_id, solution: { nonce: await solve(tight) } }, headers);
    assert.equal(bought.status, 200);
    const claims = JSON.parse(Buffer.from(bought.body.access_token.split('.')[1], 'base64url'));
    assert.deepEqual(claims.tools, ['echo']);
    assert.equal(claims.exp - claims.iat, 900, 'longer-lived');
    const use = (tool) => fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...headers, 'x-access-token': bought.body.access_token }, body: call(tool) });
    assert.notEqual((await use('echo')).status, 403);
    const other = await use('progress');
    assert.equal(other.status, 403);
    assert.equal((await other.json()).error, 'token_scope');
  });
});

test('under load with fast solves the controller raises the difficulty one step', async () => {
  const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', POW_ADJUST_SECONDS: '5' } });
  try {
    // A burst of challenges to many clients, a few solved fast.
    for (let i = 0; i < 12; i++) {
      const [c] = await denial(gateway.mcpUrl, { 'x-api-key': testKey(`burst-${i}`) });
      assert.equal(c.difficulty, 14);
      if (i < 3) assert.equal((await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, { 'x-api-key': testKey(`burst-${i}`) })).status, 200);
    }
    await new Promise((r) => setTimeout(r, 5_500));
    // The next requests ship the interval's figures; the controller answers with a new difficulty.
    let difficulty = 14;
    for (let i = 0; i < 20 && difficulty === 14; i++) {
      difficulty = (await denial(gateway.mcpUrl, { 'x-api-key': testKey(`later-${i}`) }))[0].difficulty;
      if (difficulty === 14) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(difficulty, 15);
    const stats = await (await fetch(`${gateway.url}/admin/api/stats`, { headers: { authorization: 'Bearer test-admin-secret-0123456789' } })).json();
    assert.ok(stats.series.some((p) => p.difficulty === 15), 'the dashboard\'s difficulty series shows it');
    assert.equal(stats.current_difficulty, 15, 'the dashboard shows the difficulty served, not the configured base');
    assert.ok(stats.totals.difficulty_served['15'] >= 1 && stats.totals.difficulty_served['14'] >= 12, JSON.stringify(stats.totals.difficulty_served));
  } finally {
    await gateway.dispose();
  }
});
