// MCP revision 2026-07-28 end to end through the gateway, against an origin and a client that no
// one here wrote the protocol code of: demo/origin_2026.py on the official Python SDK 2.x
// (stateless; `server/discover`, per-request `_meta`, `Mcp-Method`/`Mcp-Name`, `resultType`) and a
// stock client on the same SDK (tests/python2_client.py), both in `.tools/py2`.
//
// - The official conformance suite's server scenarios for 2026-07-28 (`--requirements 2026-07-28`,
//   which needs @modelcontextprotocol/conformance 0.2.0-alpha.x), against the origin directly and
//   through the gateway: the results must be identical once run-specific noise is removed.
// - The stock client negotiates 2026-07-28 through the gateway, calls tools (progress over SSE
//   too) until its quota is spent, and meets the in-band answers of docs/PROTOCOL.md §4: a refused
//   tools/call is a tool result with isError and a text that says payment is required; a refused
//   tools/list is JSON-RPC error 402. No code that 2026-07-28 reserves (-32020…-32099, bar the
//   three it defines) ever reaches it.
// - It then solves the proof of work carried in the refused result, redeems it, and is served,
//   with the token in `_meta["gatehouse/access_token"]` and in the header the redemption names.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startGateway, testKey } from './support/gateway.mjs';

const run = promisify(execFile);
const PYTHON = join(ROOT, '.tools', 'py2', 'bin', 'python');
const REVISION = '2026-07-28';
const QUOTA = 6;

/** The conformance CLI that knows 2026-07-28: the pinned 0.2 release, under its own name. */
function conformanceCli() {
  return join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance-2026', 'dist', 'index.js');
}

/** Starts demo/origin_2026.py on a free port; resolves once it says it listens. */
function startPythonOrigin() {
  assert.ok(existsSync(PYTHON), `${PYTHON} missing: python3 -m venv .tools/py2 && .tools/py2/bin/pip install mcp==2.3.0`);
  const child = spawn(PYTHON, [join(ROOT, 'demo', 'origin_2026.py'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`origin_2026 did not start: ${stderr}`)), 30_000);
    child.on('exit', (code) => reject(new Error(`origin_2026 exited ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/listening on (http:\/\/\S+)\/mcp$/);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1],
        close: () => new Promise((r) => {
          if (child.exitCode !== null) return r();
          child.once('exit', () => r());
          child.kill('SIGTERM');
        }),
      });
    });
  });
}

/** The scenarios 2026-07-28 requires of a server, as the CLI lists them (the rest are not scored). */
async function requiredServerScenarios(cli) {
  const { stdout } = await run(process.execPath, [cli, 'list', '--requirements', REVISION], { timeout: 60_000 });
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Server scenarios'));
  assert.ok(start >= 0, `no server scenarios listed:\n${stdout}`);
  const names = [];
  for (const line of lines.slice(start + 1)) {
    const m = line.match(/^\s+- (\S+)/);
    if (!m) break;
    names.push(m[1]);
  }
  return names;
}

/**
 * Run-specific noise, removed so that two runs compare equal: timestamps, ports, the sealed
 * `requestState` (a fresh nonce each time), subscription ids (clock-based), and two things the
 * gateway is documented to do in a proxy's place: it answers a header mismatch itself
 * (PROTOCOL.md §4, the same status and code -32020, in its own words), and it sends the origin
 * the origin's own Host, so a foreign Host reaches the origin only as a foreign Origin (403
 * from the SDK, where the SDK answers a foreign Host directly with 421): the status class is kept.
 */
function normalise(value, key) {
  if (Array.isArray(value)) return value.map((v) => normalise(v));
  if (value && typeof value === 'object') {
    const out = {};
    // Keys sorted: member order is no result (the gateway writes its own answers' keys sorted).
    for (const [k, v] of Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (k === 'timestamp') continue;
      out[k] = normalise(v, k);
    }
    if (out.error && typeof out.error === 'object' && out.error.code === -32020) out.error = { ...out.error, message: 'HEADER_MISMATCH' };
    if (out.id === 'localhost-host-rebinding-rejected' && typeof out.details?.statusCode === 'number') {
      out.details = { ...out.details, statusCode: `${Math.floor(out.details.statusCode / 100)}xx` };
    }
    return out;
  }
  if (key === 'requestState' && typeof value === 'string' && value.startsWith('v1.')) return 'SEALED';
  if (key?.endsWith('subscriptionId') && typeof value === 'number') return 'SUBSCRIPTION_ID';
  if (typeof value === 'string') return value.replace(/(127\.0\.0\.1|localhost|\[::1\]):\d+/g, '$1:PORT');
  return value;
}

async function conformance(cli, url) {
  const out = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-2026-'));
  // Exit status 1 means "some check failed"; the comparison is what this test judges.
  await run(process.execPath, [cli, 'server', '--url', url, '--requirements', REVISION, '-o', out], { timeout: 300_000 }).catch((e) => {
    if (e.code !== 1) throw e;
  });
  const results = {};
  for (const dir of readdirSync(out)) {
    const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    results[scenario] = normalise(JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8')));
  }
  return results;
}

/**
 * Each check whose (normalised) result differs between the two runs, in brief: scenario, check,
 * and status with error message on each side. Differences in details alone show as such.
 */
function differences(direct, proxied, scenarios) {
  const brief = (c) => (c ? { status: c.status, ...(c.errorMessage ? { errorMessage: c.errorMessage } : {}) } : null);
  const out = [];
  for (const scenario of scenarios) {
    const [a, b] = [direct[scenario] ?? [], proxied[scenario] ?? []];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (JSON.stringify(a[i]) === JSON.stringify(b[i])) continue;
      const [da, db] = [brief(a[i]), brief(b[i])];
      const detailsOnly = JSON.stringify(da) === JSON.stringify(db);
      out.push({
        scenario,
        check: a[i]?.id ?? b[i]?.id,
        direct: detailsOnly ? a[i].details : da,
        through_gateway: detailsOnly ? b[i].details : db,
      });
    }
  }
  return out;
}

/** Runs tests/python2_client.py; its last stdout line is its report. */
async function python2Client(url, key, mode = 'flow') {
  const { stdout } = await run(PYTHON, [join(ROOT, 'tests', 'python2_client.py'), url, key, mode], { timeout: 120_000 })
    .catch((e) => { throw new Error(`${e.message}\n${e.stderr}`); });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

/** What 2026-07-28 reserves: -32020…-32099, of which it defines only these three. */
const DEFINED = new Set([-32020, -32021, -32022]);
const forbidden = (code) => code <= -32020 && code >= -32099 && !DEFINED.has(code);

function assertNoForbiddenCode(wire) {
  const codes = wire.flatMap((x) => x.error_codes);
  const bad = codes.filter((c) => forbidden(c) || c === -32603);
  assert.deepEqual(bad, [], `codes that must not reach a 2026-07-28 client: ${JSON.stringify(wire.filter((x) => x.error_codes.some((c) => bad.includes(c))))}`);
}

let origin;
before(async () => { origin = await startPythonOrigin(); });
after(async () => origin?.close());

describe('the conformance suite for 2026-07-28, direct and through the gateway', () => {
  let gateway, cli, required, direct, proxied;
  before(async () => {
    cli = conformanceCli();
    // Quota out of the way: this run measures transparency, not limits.
    gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1000000', IN_BAND_CHALLENGES: 'true' } });
    required = await requiredServerScenarios(cli);
    direct = await conformance(cli, `${origin.url}/mcp`);
    proxied = await conformance(cli, gateway.mcpUrl);
  });
  after(async () => gateway?.dispose());

  test('the origin itself passes every server scenario 2026-07-28 requires', () => {
    assert.ok(required.length >= 30, `only ${required.length} required scenarios listed`);
    for (const scenario of required) {
      assert.ok(direct[scenario], `scenario ${scenario} did not run`);
      const failed = direct[scenario].filter((c) => c.status === 'FAILURE');
      assert.deepEqual(failed, [], `the origin fails ${scenario}`);
    }
  });

  test('every required scenario has the same results through the gateway', () => {
    assert.deepEqual(differences(direct, proxied, required), []);
  });

  test('so do the scenarios it runs but does not score (extensions, pending)', () => {
    assert.deepEqual(Object.keys(proxied).sort(), Object.keys(direct).sort());
    assert.deepEqual(differences(direct, proxied, Object.keys(direct).filter((s) => !required.includes(s))), []);
  });
});

describe('a stock Python SDK 2.3.0 client through its quota', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({
      originUrl: origin.url,
      vars: { QUOTA_PER_MINUTE: String(QUOTA), IN_BAND_CHALLENGES: 'true', RATE_KEY_HEADER: 'x-api-key' },
    });
  });
  after(async () => gateway?.dispose());

  test('negotiates 2026-07-28, meets readable in-band answers past its quota, pays, and is served', async () => {
    const out = await python2Client(gateway.mcpUrl, testKey('python2-flow'));
    const { wire } = out;

    // Negotiated statelessly: discover, never initialize; every request says its revision.
    assert.equal(out.negotiated, REVISION);
    assert.equal(out.server_info, 'gatehouse-demo-origin-2026');
    assert.equal(wire[0].method, 'server/discover');
    assert.ok(!wire.some((x) => x.method === 'initialize'), 'the client fell back to initialize');
    for (const x of wire) {
      assert.equal(x.protocol_version_header, REVISION, JSON.stringify(x));
      assert.equal(x.protocol_version_meta, REVISION, JSON.stringify(x));
      assert.equal(x.mcp_method, x.method, JSON.stringify(x));
      assert.deepEqual(x.response_ids, [x.id], `the answer to ${x.method} ${x.id} carries another id`);
    }
    for (const tool of ['echo', 'add', 'slow']) assert.ok(out.tools.includes(tool), `tools/list lacks ${tool}`);

    // Progress over SSE, through the gateway.
    assert.equal(out.slow.is_error, false);
    assert.deepEqual(out.slow.progress, [1, 2, 3]);
    const slow = wire.find((x) => x.mcp_name === 'slow');
    assert.match(slow.content_type, /^text\/event-stream/);
    assert.equal(slow.notifications.filter((n) => n === 'notifications/progress').length, 3);

    // Within the quota (tools/list and slow took two; discovery weighs nothing), each call
    // answered by the tool.
    assert.equal(out.served_within_quota.length, QUOTA - 2, JSON.stringify(out.served_within_quota));
    out.served_within_quota.forEach((s, i) => {
      assert.equal(s.is_error, false);
      assert.equal(s.result_type, 'complete');
      if (s.tool === 'echo') assert.deepEqual(s.texts, [`call ${i}`]);
      else assert.deepEqual(s.structured, { result: i + 1 });
    });

    // Past it, a tools/call is a tool result the SDK hands over as such: isError, readable.
    const { denied } = out;
    assert.ok(denied, 'the quota was never met');
    assert.equal(denied.is_error, true);
    assert.equal(denied.result_type, 'complete');
    assert.ok(denied.texts.some((t) => t.startsWith('Payment required')), JSON.stringify(denied.texts));
    assert.equal(denied.structured.x402Version, 2);
    const offer = denied.structured.challenges.find((c) => c.type === 'pow');
    assert.ok(offer, JSON.stringify(denied.structured));
    assert.equal(offer.algorithm, 'sha256');
    assert.ok(offer.verify_url.startsWith(`${gateway.url}/`), offer.verify_url);
    assert.equal(out.verify_origin_matches, true);
    const deniedOnWire = wire.find((x) => x.method === 'tools/call' && x.marker === '1');
    assert.equal(deniedOnWire.status, 200);
    assert.deepEqual(deniedOnWire.error_codes, []);
    assert.deepEqual(deniedOnWire.result_types, ['complete']);
    assert.ok(Number(deniedOnWire.retry_after) > 0);

    // Any other request past the quota: JSON-RPC error 402, which the SDK raises as MCPError.
    assert.equal(out.list_past_quota.raised, true, JSON.stringify(out.list_past_quota));
    assert.equal(out.list_past_quota.code, 402);
    assert.equal(out.list_past_quota.message, 'Payment required');
    assert.equal(out.list_past_quota.data.httpStatus, 402);
    assert.ok(out.list_past_quota.data.challenges.some((c) => c.type === 'pow'));
    assert.ok(!forbidden(out.list_past_quota.code));
    assertNoForbiddenCode(wire);

    // Paying: redeemed for a token named for its header.
    assert.equal(out.redeem.status, 200, JSON.stringify(out.redeem));
    assert.equal(out.redeem.token_type, 'Gatehouse');
    assert.equal(out.redeem.header, 'x-access-token');
    assert.ok(out.redeem.grant >= 3);
    // Sent as an OAuth bearer it is not a Gatehouse token (OAuth is off): still refused, in-band.
    assert.equal(out.paid_bearer.is_error, true);
    assert.ok(out.paid_bearer.texts.some((t) => t.startsWith('Payment required')));
    // In `_meta`, and in its header: served by the tool.
    assert.deepEqual(out.paid_meta, { is_error: false, texts: ['paid in _meta'], structured: { result: 'paid in _meta' }, result_type: 'complete' });
    assert.deepEqual(out.paid_header, { is_error: false, texts: ['42'], structured: { result: 42 }, result_type: 'complete' });
    assert.ok(out.list_with_token >= 3);
    const paid = wire.filter((x) => x.method === 'tools/call').slice(-2);
    for (const x of paid) assert.equal(x.marker, null, 'a paid call got a challenge');
  });

  test('a fresh client whose quota is spent still connects at 2026-07-28: discovery is free', async () => {
    const key = testKey('python2-connect');
    // Spend the quota with plain 2026-07-28 requests.
    for (let id = 1; id <= QUOTA; id++) {
      const res = await fetch(gateway.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-api-key': key, 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/list' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': REVISION, 'io.modelcontextprotocol/clientCapabilities': {} } } }),
      });
      assert.equal(res.status, 200);
      assert.ok(JSON.parse(await res.text()).result, `request ${id} was refused within the quota`);
    }
    // server/discover weighs nothing (a refused one would make the SDK fall back to an older
    // revision), so the client negotiates its own revision and meets the quota at its first call.
    const out = await python2Client(gateway.mcpUrl, key, 'connect');
    assert.equal(out.connected, true, JSON.stringify(out));
    assert.equal(out.negotiated, REVISION);
    assert.equal(out.wire[0].method, 'server/discover');
    assert.ok(!out.wire.some((x) => x.method === 'initialize'));
    for (const x of out.wire) {
      assert.equal(x.status, 200);
      assert.deepEqual(x.error_codes, []);
    }
    assertNoForbiddenCode(out.wire);
  });
});
