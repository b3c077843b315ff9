// `npm run bench`: in one run, on loopback, the MCP origin direct, a bare pass-through worker in
// the same workerd (the floor this platform allows), and the gateway on its quota path and its
// token fast path; then the full 402 -> solve -> redeem -> retry round trip, the wasm size, and
// the native figures. Prints a table and writes it to bench/results.md. A benchmark: it asserts
// nothing about speed.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request, run, summarize } from './load.mjs';
import { solvePow } from '../clients/js/pow.mjs';
import { ROOT, TEST_SIGNING_KEYS as SIGNING_KEYS, migrationStatements, testKey } from '../tests/support/gateway.mjs';

const SEQUENTIAL = 300;
const CONCURRENT = 2_000;
const CONCURRENCY = 16;
const ROUND_TRIPS = 30;
const ORIGIN_PORT = 18790;
const BUILD = join(ROOT, 'build');
const RUST_FLOOR = join(ROOT, 'bench', 'rust-passthrough', 'build');
execFileSync('worker-build', ['--release'], { cwd: join(ROOT, 'bench', 'rust-passthrough'), stdio: ['ignore', 'ignore', 'inherit'] });

const origin = spawn(process.execPath, [join(ROOT, 'demo', 'origin.mjs'), '--port', String(ORIGIN_PORT)], { stdio: 'ignore', detached: true });
const originUrl = `http://127.0.0.1:${ORIGIN_PORT}`;

const gatewayWorker = (name, host, vars) => ({
  name,
  routes: host ? [`${host}/*`] : undefined,
  modulesRoot: BUILD,
  modules: [{ type: 'ESModule', path: join(BUILD, 'index.js') }, { type: 'CompiledWasm', path: join(BUILD, 'index_bg.wasm') }],
  compatibilityDate: '2026-11-01',
  durableObjects: { COUNTERS: { className: 'GateCounter', useSQLite: true }, CREDENTIALS: { className: 'CredentialCounter', useSQLite: true }, METRICS: { className: 'MetricsObject', useSQLite: true } },
  d1Databases: { DB: `bench-${name}` },
  bindings: { ORIGIN_URL: originUrl, LOCAL_DEV: 'true', TOKEN_SIGNING_KEYS: SIGNING_KEYS, RATE_KEY_HEADER: 'x-api-key', ...vars },
});

const mf = new Miniflare(convertV4MiniflareOptions({
  host: '127.0.0.1', port: 0, cf: false,
  workers: [
    gatewayWorker('gateway', null, { QUOTA_PER_MINUTE: '1000000' }),
    gatewayWorker('gateway-tight', 'tight.bench', { QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '1000000', TOKEN_TTL_SECONDS: '3600' }),
    {
      name: 'rust-passthrough',
      routes: ['rust.bench/*'],
      modulesRoot: RUST_FLOOR,
      modules: [{ type: 'ESModule', path: join(RUST_FLOOR, 'index.js') }, { type: 'CompiledWasm', path: join(RUST_FLOOR, 'index_bg.wasm') }],
      compatibilityDate: '2026-11-01',
      bindings: { ORIGIN_URL: originUrl },
    },
    {
      name: 'passthrough',
      routes: ['passthrough.bench/*'],
      modules: true,
      compatibilityDate: '2026-11-01',
      bindings: { ORIGIN_URL: originUrl },
      script: `export default { fetch(req, env) { const u = new URL(req.url); return fetch(env.ORIGIN_URL + u.pathname + u.search, req); } };`,
    },
  ],
}));

let exitCode = 0;
try {
  const base = (await mf.ready).origin;
  for (const name of ['gateway', 'gateway-tight']) {
    const db = await mf.getD1Database('DB', name);
    for (const stmt of migrationStatements()) await db.prepare(stmt).run();
  }
  for (let i = 0; i < 100; i++) {
    try { await request({ url: `${originUrl}/`, method: 'GET' }); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }

  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
  const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } });
  const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'bench/1', 'x-api-key': testKey('bench') };

  async function session(url, host, extra = {}) {
    const r = await request({ url, host, headers: { ...mcpHeaders, ...extra }, body: init });
    if (r.status !== 200) throw new Error(`initialize via ${host ?? url}: ${r.status} ${r.body.slice(0, 200)}`);
    const headers = { ...mcpHeaders, ...extra, 'mcp-session-id': r.headers['mcp-session-id'], 'mcp-protocol-version': '2025-06-18' };
    await request({ url, host, headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    return () => ({ url, host, headers, body: call });
  }

  // A token for the fast path, bought from the tight gateway with one real challenge.
  const tight = { url: `${base}/mcp`, host: 'tight.bench' };
  async function buyToken(key) {
    const started = performance.now();
    const denied = await request({ ...tight, headers: { ...mcpHeaders, 'x-api-key': testKey(key) }, body: init });
    const deniedAt = performance.now();
    if (denied.status !== 402) throw new Error(`expected 402, got ${denied.status}`);
    const [c] = JSON.parse(denied.body).challenges;
    const nonce = await solvePow(c.salt, c.difficulty);
    const solvedAt = performance.now();
    const redeemed = await request({ url: `${base}/api/verify-challenge`, host: 'tight.bench', headers: { 'content-type': 'application/json', 'user-agent': 'bench/1', 'x-api-key': testKey(key) }, body: JSON.stringify({ challenge_id: c.challenge_id, solution: { nonce } }) });
    if (redeemed.status !== 200) throw new Error(`redeem: ${redeemed.status} ${redeemed.body}`);
    const token = JSON.parse(redeemed.body).access_token;
    const retried = await request({ ...tight, headers: { ...mcpHeaders, 'x-api-key': testKey(key), 'x-access-token': token }, body: init });
    if (retried.status !== 200) throw new Error(`retry: ${retried.status}`);
    return { token, total: performance.now() - started, solve: solvedAt - deniedAt, difficulty: c.difficulty };
  }
  // Use the tight gateway's one free request of the minute, so the next one meets the 402.
  await request({ ...tight, headers: { ...mcpHeaders, 'x-api-key': testKey('fast') }, body: init });
  const { token } = await buyToken('fast');

  const targets = [
    ['origin direct', await session(`${originUrl}/mcp`)],
    ['bare pass-through worker (JS)', await session(`${base}/mcp`, 'passthrough.bench')],
    ['bare pass-through worker (Rust, worker crate)', await session(`${base}/mcp`, 'rust.bench')],
    ['gateway, quota path (Durable Object)', await session(`${base}/mcp`)],
    ['gateway, token fast path (no I/O)', await session(`${base}/mcp`, 'tight.bench', { 'x-api-key': testKey('fast'), 'x-access-token': token })],
  ];
  const rows = [];
  for (const [label, make] of targets) {
    await run(make, { total: 50, concurrency: 4 }); // warm-up
    const seq = await run(make, { total: SEQUENTIAL, concurrency: 1 });
    const con = await run(make, { total: CONCURRENT, concurrency: CONCURRENCY });
    rows.push({ label, seq, con });
  }

  const trips = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    await request({ ...tight, headers: { ...mcpHeaders, 'x-api-key': testKey(`trip-${i}`) }, body: init });
    trips.push(await buyToken(`trip-${i}`));
  }
  const tripTotal = summarize(trips.map((t) => t.total), 1);
  const tripSolve = summarize(trips.map((t) => t.solve), 1);

  const wasm = readFileSync(join(BUILD, 'index_bg.wasm'));
  const native = execFileSync('cargo', ['bench', '-p', 'gatehouse-core', '--quiet'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const solver = execFileSync('cargo', ['run', '--release', '--quiet', '-p', 'gatehouse-kit', '--bin', 'gatehouse-solve', '--', 'bench', '--seconds', '2'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

  const f = (n, d = 2) => n.toFixed(d);
  const floor = rows[1];
  const lines = [
    `# Gatehouse benchmark`,
    '',
    `tools/call (echo) over keep-alive HTTP/1.1 on loopback; the origin is the demo MCP server (official SDK, SSE replies). ` +
      `Sequential: ${SEQUENTIAL} requests; concurrent: ${CONCURRENT} requests, ${CONCURRENCY} in flight. The load generator shares the machine's cores.`,
    '',
    '| target | seq p50 ms | seq p99 ms | seq req/s | c16 p50 ms | c16 p99 ms | c16 req/s | c16 vs pass-through |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(({ label, seq, con }) => `| ${label} | ${f(seq.p50)} | ${f(seq.p99)} | ${f(seq.rps, 0)} | ${f(con.p50)} | ${f(con.p99)} | ${f(con.rps, 0)} | ${f((con.rps / floor.con.rps) * 100, 0)}% |`),
    '',
    `402 -> solve -> redeem -> retry at difficulty ${trips[0].difficulty} (JS solver, node:crypto), ${ROUND_TRIPS} round trips: ` +
      `total p50 ${f(tripTotal.p50)} ms, p99 ${f(tripTotal.p99)} ms; solving alone p50 ${f(tripSolve.p50)} ms, p99 ${f(tripSolve.p99)} ms.`,
    '',
    `Wasm: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzip.`,
    '',
    'Native (`cargo bench -p gatehouse-core`, one core):',
    '',
    '```',
    native,
    '```',
    '',
    'Client kit solver (`gatehouse-solve bench`), against OpenSSL on the same machine:',
    '',
    '```',
    solver,
    '```',
    '',
  ];
  const table = lines.join('\n');
  console.log(table);
  writeFileSync(join(ROOT, 'bench', 'results.md'), table);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await mf.dispose();
  try { process.kill(-origin.pid, 'SIGKILL'); } catch {}
  request.agent.destroy();
}
process.exit(exitCode);
