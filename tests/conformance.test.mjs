// Transparency against a suite no one here wrote: the official MCP conformance suite's server
// scenarios, run against the demo origin directly and then through the gateway, in one run. The
// results must be identical once run-specific noise (timestamps, ports, event ids) is removed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startOrigin } from '../demo/origin.mjs';
import { ROOT, startGateway } from './support/gateway.mjs';

const run = promisify(execFile);
const CLI = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

async function conformance(url) {
  const out = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-'));
  // Exit status 1 means "some check failed"; the comparison below is what this test judges.
  await run(process.execPath, [CLI, 'server', '--url', url, '-o', out], { timeout: 180_000 }).catch((e) => {
    if (e.code !== 1) throw e;
  });
  const results = {};
  for (const dir of readdirSync(out)) {
    const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    const text = readFileSync(join(out, dir, 'checks.json'), 'utf8')
      .replace(/(127\.0\.0\.1|localhost|\[::1\]):\d+/g, '$1:PORT');
    const checks = JSON.parse(text).map(({ timestamp, ...rest }) => rest);
    results[scenario] = JSON.stringify(checks, null, 1)
      .replace(/"id": "[0-9a-f-]{36}::\d+_[0-9a-f-]{36}"/g, '"id": "EVENT_ID"');
  }
  return results;
}

let origin, gateway;
before(async () => {
  origin = await startOrigin();
  // Quota out of the way: this run measures transparency, not limits.
  gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1000000' } });
});
after(async () => {
  await gateway?.dispose();
  await origin?.close();
});

test('the conformance results through the gateway equal the direct ones', async () => {
  const direct = await conformance(`${origin.url}/mcp`);
  const proxied = await conformance(gateway.mcpUrl);
  const tally = (results) => Object.values(results).flatMap((r) => JSON.parse(r)).reduce((t, c) => ({ ...t, [c.status]: (t[c.status] ?? 0) + 1 }), {});
  const summary = { scenarios: Object.keys(direct).length, direct: tally(direct), through_gateway: tally(proxied) };
  mkdirSync(join(ROOT, 'tests', 'artifacts'), { recursive: true });
  writeFileSync(join(ROOT, 'tests', 'artifacts', 'conformance.json'), JSON.stringify(summary, null, 2));
  console.log(`conformance: ${JSON.stringify(summary)}`);

  assert.ok(summary.scenarios >= 30, `ran ${summary.scenarios} scenarios`);
  assert.ok((summary.direct.SUCCESS ?? 0) >= 30, 'the origin itself passes the suite');
  assert.deepEqual(Object.keys(proxied).sort(), Object.keys(direct).sort());
  for (const scenario of Object.keys(direct)) {
    assert.equal(proxied[scenario], direct[scenario], `scenario ${scenario} differs through the gateway`);
  }
});
