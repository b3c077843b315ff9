// `node bench/ab.mjs [<build dir>[:NAME=value,...] ...]`: a quick comparison, in one workerd and
// interleaved, of the gateway's token path and quota path in one or more builds (default: build/;
// give another commit's build directory to compare before and after), each with extra settings if
// given (`build:AUDIT_ENABLED=false` prices the audit trail; `+flag` and `-flag` add a
// compatibility flag to wrangler.toml's or take one away: `build:-no_nodejs_global_timers` prices
// Node's timers), against the JS floor and the hardened TypeScript peer. Prints workerd CPU per
// request and the ratios, then (BENCH_LATENCY requests per target, default 600) the latency one
// request at a time, the targets taking turns request by request, and what each adds to the
// floor's p50. Asserts nothing.
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request } from './load.mjs';
import { interleaved, rounds } from './measure.mjs';
import { pinCores } from './cpu.mjs';
import { BUILD, buildArg, gatewayWorker, jsFloorWorker, quietLogs, startOrigin, tsPeerHardenedWorker, CALL, INIT, MCP_HEADERS, TIGHT_VARS } from './targets.mjs';
import { spendAndBuy } from './buy-token.mjs';
import { migrationStatements, testKey } from '../tests/support/gateway.mjs';

const builds = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (builds.length === 0) builds.push(BUILD);
const TOTAL = Number(process.env.BENCH_REQUESTS ?? 1_500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LATENCY = Number(process.env.BENCH_LATENCY ?? 600);
const QUOTA_VARS = { QUOTA_PER_MINUTE: '1000000', CALL_CEILING_PER_MINUTE: '1000000' };

const origin = await startOrigin(18794);
const workers = [jsFloorWorker('passthrough', 'passthrough.bench', origin.url), tsPeerHardenedWorker('ts-peer-hardened', origin.url)];
builds.forEach((b, i) => {
  const { dir, vars, flags } = buildArg(b);
  workers.push(gatewayWorker(`tight-${i}`, `tight-${i}.bench`, origin.url, { ...TIGHT_VARS, ...vars }, dir, flags));
  workers.push(gatewayWorker(`quota-${i}`, `quota-${i}.bench`, origin.url, { ...QUOTA_VARS, ...vars }, dir, flags));
});
const mf = new Miniflare(convertV4MiniflareOptions({ host: '127.0.0.1', port: 0, cf: false, handleStructuredLogs: quietLogs, workers }));
try {
  const base = (await mf.ready).origin;
  if (pinCores([origin.pid])) console.log('workerd pinned to core 0, the load generator and the origin to the others (BENCH_PIN=1)');
  const headers = { ...MCP_HEADERS, 'x-api-key': testKey('ab') };
  const targets = [
    { label: 'JS floor', make: () => ({ url: `${base}/mcp`, host: 'passthrough.bench', headers, body: CALL }) },
  ];
  for (let i = 0; i < builds.length; i++) {
    for (const kind of ['tight', 'quota']) {
      const db = await mf.getD1Database('DB', `${kind}-${i}`);
      for (const stmt of migrationStatements()) await db.prepare(stmt).run();
    }
    const host = `tight-${i}.bench`;
    const { token } = await spendAndBuy({ url: `${base}/mcp`, host, headers: MCP_HEADERS, body: INIT }, `ab-${i}`);
    const withToken = { ...MCP_HEADERS, 'x-api-key': testKey(`ab-${i}`), 'x-access-token': token };
    if (i === 0) targets.push({ label: 'hardened TS peer', make: () => ({ url: `${base}/mcp`, host, headers: { ...withToken, 'mf-route-override': 'ts-peer-hardened' }, body: CALL }) });
    targets.push({ label: `token path, ${builds[i]}`, make: () => ({ url: `${base}/mcp`, host, headers: withToken, body: CALL }) });
    targets.push({ label: `quota path, ${builds[i]}`, make: () => ({ url: `${base}/mcp`, host: `quota-${i}.bench`, headers, body: CALL }) });
  }
  const out = await rounds(targets, { rounds: ROUNDS, total: TOTAL, concurrency: 8 });
  const [floor, peer] = out;
  console.log(`${TOTAL} requests per round, 8 in flight, median of ${ROUNDS} interleaved rounds`);
  console.log('| target | CPU µs/req | × JS floor | × hardened peer | req/s |\n|---|---|---|---|---|');
  for (const r of out) console.log(`| ${r.label} | ${r.cpuUs.toFixed(0)} | ${(r.cpuUs / floor.cpuUs).toFixed(2)} | ${(r.cpuUs / peer.cpuUs).toFixed(2)} | ${r.rps.toFixed(0)} |`);
  if (LATENCY > 0) {
    const one = await interleaved(targets, { passes: LATENCY });
    console.log(`\nOne request at a time, ${LATENCY} per target, taking turns request by request`);
    console.log('| target | p50 ms | p99 ms | added p50 ms |\n|---|---|---|---|');
    for (const r of one) console.log(`| ${r.label} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.added.toFixed(2)} |`);
  }
} finally {
  await mf.dispose();
  origin.stop();
  request.agent.destroy();
}
