// `npm run bench [-- --label <name>]`: in one run, on loopback, in one workerd, against a fixed
// origin (origin.mjs): a bare JS pass-through worker (the floor this platform allows), the same
// floor in Rust on the `worker` crate, two hand-written TypeScript peers (ts-peer.ts: the token
// check alone; ts-peer-hardened.ts: the token path's hardened work, with the body read, parsed and
// charged against the grant), and the gateway on its token fast path (again as a second worker,
// for the resolution, and with its audit trail off, which the peer keeps none of) and its quota
// path (Durable Object). For each: workerd's own CPU per request from /proc (cpu.mjs),
// throughput, p50/p99 latency, each the median of BENCH_ROUNDS rounds (5).
// Then streamed SSE and 100 KB bodies through the token path and the floor (CPU per request shows
// whether a body is copied), cold start, the full 402 -> solve -> redeem -> retry round trip, the
// wasm size and the native figures. Prints a table and writes it to bench/results.md under the
// label. `-- --profile` runs profile.mjs instead, `-- --hotkey` hotkey.mjs (one client through
// several isolates: counter calls per admitted request). With `BENCH_PIN=1`, workerd runs on a core
// of its own (cpu.mjs). A benchmark: it asserts nothing about speed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request, summarize } from './load.mjs';
import { interleaved, rounds } from './measure.mjs';
import { coldStart } from './cold.mjs';
import { CLK_TCK, pinCores, unpinSelf } from './cpu.mjs';
import { BUILD, buildArg, buildRustFloor, gatewayWorker, jsFloorWorker, quietLogs, rustFloorWorker, tsPeerWorker, tsPeerHardenedWorker, startOrigin, TIGHT_VARS, CALL, INIT, MCP_HEADERS } from './targets.mjs';
import { labelArg, writeBlock } from './results-file.mjs';
import { spendAndBuy } from './buy-token.mjs';
import { checkHardenedPeer, checkPeer } from './peer-checks.mjs';
import { ROOT, migrationStatements, testKey } from '../tests/support/gateway.mjs';

if (process.argv.includes('--profile')) {
  await import('./profile.mjs');
  process.exit(process.exitCode ?? 0);
}
if (process.argv.includes('--hotkey')) {
  await import('./hotkey.mjs');
  process.exit(process.exitCode ?? 0);
}

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 3_000); // smaller for a quick look
const CONCURRENCY = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BODY_TOTAL = Math.ceil(TOTAL / 3);
const COLD_STARTS = 5;
const ROUND_TRIPS = 30;
const ORIGIN_PORT = 18790;
// `--baseline <build dir>[:settings]`: another commit's build beside this one (its token and quota
// paths), for a before-and-after table from one run, with settings as bench/ab.mjs takes them
// (targets.mjs `buildArg`): `-no_nodejs_global_timers` for a build from before that flag.
const BASELINE = process.argv.includes('--baseline') ? process.argv[process.argv.indexOf('--baseline') + 1] : null;
const baseline = BASELINE && buildArg(BASELINE);
const started = performance.now();
buildRustFloor();

const origin = await startOrigin(ORIGIN_PORT);
const originUrl = origin.url;

const mf = new Miniflare(convertV4MiniflareOptions({
  host: '127.0.0.1', port: 0, cf: false, handleStructuredLogs: quietLogs,
  workers: [
    // The call ceiling (default 600 a minute per client) would answer 429 before the quota.
    gatewayWorker('gateway', null, originUrl, { QUOTA_PER_MINUTE: '1000000', CALL_CEILING_PER_MINUTE: '1000000' }),
    gatewayWorker('gateway-tight', 'tight.bench', originUrl, TIGHT_VARS),
    // The same build again, measured as another target: how far two identical targets land apart
    // in one run, which is the resolution of every other row.
    gatewayWorker('gateway-again', 'again.bench', originUrl, TIGHT_VARS),
    // The token path with its audit trail off: the hardened peer keeps none (it also leaves out
    // the revocation list, the grant's counter, routes and per-tool limits, which this still does).
    gatewayWorker('gateway-unaudited', 'unaudited.bench', originUrl, { ...TIGHT_VARS, AUDIT_ENABLED: 'false' }),
    rustFloorWorker('rust-passthrough', 'rust.bench', originUrl),
    jsFloorWorker('passthrough', 'passthrough.bench', originUrl),
    tsPeerWorker('ts-peer', originUrl),
    tsPeerHardenedWorker('ts-peer-hardened', originUrl),
    ...(BASELINE ? [
      gatewayWorker('before', 'before.bench', originUrl, { QUOTA_PER_MINUTE: '1000000', CALL_CEILING_PER_MINUTE: '1000000', ...baseline.vars }, baseline.dir, baseline.flags),
      gatewayWorker('before-tight', 'before-tight.bench', originUrl, { ...TIGHT_VARS, ...baseline.vars }, baseline.dir, baseline.flags),
    ] : []),
  ],
}));

let exitCode = 0;
try {
  const base = (await mf.ready).origin;
  // `BENCH_PIN=1`: workerd on a core of its own, the load generator and the origin on the other.
  const pinned = pinCores([origin.pid]);
  for (const name of ['gateway', 'gateway-tight', 'gateway-again', 'gateway-unaudited', ...(BASELINE ? ['before', 'before-tight'] : [])]) {
    const db = await mf.getD1Database('DB', name);
    for (const stmt of migrationStatements()) await db.prepare(stmt).run();
  }

  const mcpHeaders = { ...MCP_HEADERS, 'x-api-key': testKey('bench') };
  const target = (label, url, host, extra = {}) => {
    const req = { url, host, headers: { ...mcpHeaders, ...extra }, body: CALL };
    return { label, make: () => req };
  };

  // A token for the fast path, bought from the tight gateway with one real challenge.
  const tight = { url: `${base}/mcp`, host: 'tight.bench', headers: mcpHeaders, body: INIT };
  const { token } = await spendAndBuy(tight, 'fast');
  const withToken = { 'x-api-key': testKey('fast'), 'x-access-token': token };
  // The peers must refuse what the gateway refuses, or their rows measure a lesser check.
  const peer = (name) => (extra, body = CALL) => request({ url: `${base}/mcp`, host: 'tight.bench', headers: { ...mcpHeaders, ...withToken, 'mf-route-override': name, ...extra }, body });
  await checkPeer('the TypeScript peer', peer('ts-peer'), { token });
  await checkHardenedPeer('the hardened TypeScript peer', peer('ts-peer-hardened'), { token, keyId: 'fast' });

  // Another worker's credentials: a key of its own and a token bought from it with one challenge.
  const bought = async (host, key) => {
    const { token: t } = await spendAndBuy({ url: `${base}/mcp`, host, headers: mcpHeaders, body: INIT }, key);
    return { 'x-api-key': testKey(key), 'x-access-token': t };
  };
  const againCredentials = await bought('again.bench', 'again');
  const UNAUDITED = 'gateway, token fast path, audit trail off (the peer keeps none)';
  const unauditedCredentials = await bought('unaudited.bench', 'unaudited');
  const unauditedTarget = () => target(UNAUDITED, `${base}/mcp`, 'unaudited.bench', unauditedCredentials);
  const before = [];
  if (BASELINE) {
    const old = await bought('before-tight.bench', 'before');
    before.push(
      target(`before: gateway, token path (${BASELINE})`, `${base}/mcp`, 'before-tight.bench', old),
      target(`before: gateway, quota path (${BASELINE})`, `${base}/mcp`, 'before.bench'),
    );
  }
  const FLOOR = 'bare pass-through worker (JS) — the floor';
  const TOKEN = 'gateway, token fast path';
  const HARDENED = 'TS peer, hardened token work (ts-peer-hardened.ts)';
  const QUOTA = 'gateway, quota path (leased from the client\'s Durable Object)';
  const AGAIN = 'gateway, token fast path again: the same build as another worker (the resolution)';
  const main = await rounds([
    target(FLOOR, `${base}/mcp`, 'passthrough.bench'),
    target('bare pass-through worker (Rust, worker crate)', `${base}/mcp`, 'rust.bench'),
    target('hand-written TypeScript peer (ts-peer.ts)', `${base}/mcp`, 'tight.bench', { ...withToken, 'mf-route-override': 'ts-peer' }),
    target(HARDENED, `${base}/mcp`, 'tight.bench', { ...withToken, 'mf-route-override': 'ts-peer-hardened' }),
    target(TOKEN, `${base}/mcp`, 'tight.bench', withToken),
    target(QUOTA, `${base}/mcp`, null),
    target(AGAIN, `${base}/mcp`, 'again.bench', againCredentials),
    unauditedTarget(),
    ...before,
    { ...target('origin direct (no worker; reference)', `${originUrl}/mcp`, null), noCpu: true },
  ], { rounds: ROUNDS, total: TOTAL, concurrency: CONCURRENCY });
  const mainSecs = (performance.now() - started) / 1000;

  // Latency one request at a time: what a request adds when the cores are not saturated (under
  // load, p50 mostly measures the queue for a shared core). The targets take turns request by
  // request, so drift on the shared machine touches each alike.
  const SEQUENTIAL = Math.ceil(TOTAL / 2);
  const sequential = await interleaved([
    target(FLOOR, `${base}/mcp`, 'passthrough.bench'),
    target('bare pass-through worker (Rust, worker crate)', `${base}/mcp`, 'rust.bench'),
    target('hand-written TypeScript peer (ts-peer.ts)', `${base}/mcp`, 'tight.bench', { ...withToken, 'mf-route-override': 'ts-peer' }),
    target(HARDENED, `${base}/mcp`, 'tight.bench', { ...withToken, 'mf-route-override': 'ts-peer-hardened' }),
    target(TOKEN, `${base}/mcp`, 'tight.bench', withToken),
    target(QUOTA, `${base}/mcp`, null),
    unauditedTarget(),
    { ...target('origin direct (no worker; reference)', `${originUrl}/mcp`, null) },
  ], { passes: SEQUENTIAL });

  const bodies = await rounds([
    target(`${FLOOR.split(' —')[0]}, SSE (16 events, 9 KB)`, `${base}/mcp`, 'passthrough.bench', { 'x-bench-shape': 'sse' }),
    target(`${TOKEN}, SSE (16 events, 9 KB)`, `${base}/mcp`, 'tight.bench', { ...withToken, 'x-bench-shape': 'sse' }),
    target(`${FLOOR.split(' —')[0]}, 100 KB JSON`, `${base}/mcp`, 'passthrough.bench', { 'x-bench-shape': 'big' }),
    target(`${TOKEN}, 100 KB JSON`, `${base}/mcp`, 'tight.bench', { ...withToken, 'x-bench-shape': 'big' }),
  ], { rounds: ROUNDS, total: BODY_TOTAL, concurrency: CONCURRENCY, warmup: 100 });

  const trips = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    trips.push(await spendAndBuy(tight, `trip-${i}`));
  }
  const tripTotal = summarize(trips.map((t) => t.total), 1);
  const tripSolve = summarize(trips.map((t) => t.solve), 1);

  if (pinned) unpinSelf();
  // Cold: the quota path by address (no API key: a fresh D1 has no tables to check it against).
  const { 'x-api-key': _, ...anonymous } = mcpHeaders;
  const coldReq = { headers: anonymous, body: CALL };
  const cold = [
    ['bare pass-through worker (JS)', await coldStart(jsFloorWorker('cold-floor', null, originUrl), coldReq, COLD_STARTS)],
    ['gateway (quota path, first call)', await coldStart(gatewayWorker('cold-gateway', null, originUrl, { QUOTA_PER_MINUTE: '1000000' }), coldReq, COLD_STARTS)],
  ];

  const wasm = readFileSync(join(BUILD, 'index_bg.wasm'));
  const native = execFileSync('cargo', ['bench', '-p', 'gatehouse-core', '--quiet'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const solver = execFileSync('cargo', ['run', '--profile', 'kit', '--quiet', '-p', 'gatehouse-kit', '--bin', 'gatehouse-solve', '--', 'bench', '--seconds', '2'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

  const f = (n, d = 2) => n.toFixed(d);
  const floor = main[0];
  const bodyFloor = (row) => bodies.find((b) => b.label.startsWith(FLOOR.split(' —')[0]) && b.label.split(', ').at(-1) === row.label.split(', ').at(-1));
  const peerRow = main.find((r) => r.label === HARDENED);
  const row = (r, ref) => `| ${r.label} | ${r.noCpu ? '—' : f(r.cpuUs, 0)} | ${r.noCpu ? '—' : `${f(r.cpuUs / ref.cpuUs)}×`} | ${f(r.rps, 0)} | ${f((r.rps / ref.rps) * 100, 0)}% | ${f(r.p50)} | ${f(r.p99)} |`;
  const mainRow = (r) => `| ${r.label} | ${r.noCpu ? '—' : f(r.cpuUs, 0)} | ${r.noCpu ? '—' : `${f(r.cpuUs / floor.cpuUs)}×`} | ${r.noCpu ? '—' : `${f(r.cpuUs / peerRow.cpuUs)}×`} | ${f(r.rps, 0)} | ${f((r.rps / floor.rps) * 100, 0)}% | ${f(r.p50)} | ${f(r.p99)} |`;
  const header = ['| target | CPU µs/req | × floor | req/s | vs floor | p50 ms | p99 ms |', '|---|---|---|---|---|---|---|'];
  const mainHeader = ['| target | CPU µs/req | × JS floor | × hardened TS peer | req/s | vs floor | p50 ms | p99 ms |', '|---|---|---|---|---|---|---|---|'];
  const elapsed = (performance.now() - started) / 1000;
  const lines = [
    `tools/call over keep-alive HTTP/1.1 on loopback, ${TOTAL} requests per round, ${CONCURRENCY} in flight, each figure the median of ${ROUNDS} rounds ` +
      `(rounds interleaved across targets). CPU is workerd's own (utime + stime of its process in /proc, CLK_TCK ${CLK_TCK}) over the round, divided by its requests. ` +
      'The origin answers a fixed 78-byte JSON body (bench/origin.mjs). ' +
      (pinned
        ? `workerd ran alone on one of the machine's ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, the load generator, Miniflare's own process and the origin on the rest (BENCH_PIN=1). `
        : `The load generator and the origin share the machine's ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores with workerd. `) +
      `workerd's CPU includes Miniflare's entry worker, which routes every request here and not in ` +
      'production: the same for every target, so the × floor ratios understate what separates the targets.',
    '',
    ...mainHeader,
    ...main.map(mainRow),
    '',
    `One request at a time, ${SEQUENTIAL} per target, the targets taking turns request by request: latency, and what each adds to the floor's p50 ` +
      '(negative for the origin reached directly: what the worker in front of it costs).',
    '',
    '| target | p50 ms | p99 ms | added p50 ms | added, share of the floor\'s p50 |',
    '|---|---|---|---|---|',
    ...sequential.map((r) => `| ${r.label} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.added)} | ${f((r.added / sequential[0].p50) * 100, 0)}% |`),
    '',
    `Bodies (${BODY_TOTAL} requests per round, ${CONCURRENCY} in flight, median of ${ROUNDS}); each row against the floor with the same body:`,
    '',
    ...header,
    ...bodies.map((r) => row(r, bodyFloor(r))),
    '',
    `Cold start (a fresh workerd holding only that worker; median of ${COLD_STARTS}): spawn to ready, then ready to the first response.`,
    '',
    '| worker | spawn → first response ms | spawn → ready ms | first request ms |',
    '|---|---|---|---|',
    ...cold.map(([label, c]) => `| ${label} | ${f(c.total, 0)} | ${f(c.ready, 0)} | ${f(c.first, 1)} |`),
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
    `Up to the end of the main table: ${f(mainSecs, 0)} s; the whole bench: ${f(elapsed, 0)} s.`,
  ];
  const table = lines.join('\n');
  console.log(table);
  writeBlock({
    intro: '# Gatehouse benchmark\n\n`npm run bench -- --label <name>` writes its tables here under that label; ' +
      '`npm run bench -- --profile --label <name>` adds where the token path\'s time goes. See bench/run.mjs and bench/profile.mjs for the method.',
    label: labelArg(), block: 'table', markdown: table,
  });
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await mf.dispose();
  origin.stop();
  request.agent.destroy();
}
process.exit(exitCode);
