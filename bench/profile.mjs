// `node bench/profile.mjs [--label <name>]` (or `npm run bench -- --profile`): a V8 CPU profile of
// the gateway's isolate in workerd under token-path load, taken over the Chrome DevTools protocol
// from workerd's inspector (Miniflare's `inspectorPort`; one target per worker, `core:user:<name>`).
// Miniflare's own entry worker, which routes every request in this setup and not in production,
// is profiled alongside so its share is known. Saves bench/profiles/<label>.cpuprofile (open it
// in Chrome DevTools or speedscope) and writes the summary (profile-summary.mjs) to the
// terminal and to bench/results.md under the label. It needs the wasm's function names, which the
// release build strips: build with `GATEHOUSE_KEEP_NAMES=1 bash scripts/build.sh` first
// (`npm run bench -- --profile` does).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request, run } from './load.mjs';
import { cpuSeconds, workerdPids } from './cpu.mjs';
import { spendAndBuy } from './buy-token.mjs';
import { summarize } from './profile-summary.mjs';
import { labelArg, writeBlock } from './results-file.mjs';
import { gatewayWorker, jsFloorWorker, quietLogs, startOrigin, tsPeerHardenedWorker, CALL, INIT, MCP_HEADERS, TIGHT_VARS } from './targets.mjs';
import { compare } from './profile-compare.mjs';
import { ROOT, freePort, migrationStatements, testKey } from '../tests/support/gateway.mjs';
import { customSectionNames } from '../scripts/strip-names.mjs';

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 3_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SAMPLING_US = 100;
const ORIGIN_PORT = 18792;
const label = labelArg();
// `--quota`: the quota path (the client's Durable Object on every request) instead of the token path.
const QUOTA = process.argv.includes('--quota');
// `--peers`: the JS floor and the hardened TypeScript peer profiled too, under the same load one
// after the other, for a side-by-side table of where each spends its isolate's time.
const PEERS = process.argv.includes('--peers') && !QUOTA;
const QUOTA_VARS = { QUOTA_PER_MINUTE: '1000000', CALL_CEILING_PER_MINUTE: '1000000' };

// `--build <dir>`: another commit's build (built with its names) instead of build/.
const BUILD_DIR = process.argv.includes('--build') ? process.argv[process.argv.indexOf('--build') + 1] : join(ROOT, 'build');
if (!customSectionNames(readFileSync(join(BUILD_DIR, 'index_bg.wasm'))).includes('name')) {
  throw new Error('build/index_bg.wasm has no function names: build it with GATEHOUSE_KEEP_NAMES=1 bash scripts/build.sh');
}

/** A DevTools protocol session over the inspector's WebSocket (Node 22's global WebSocket). */
async function devtools(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error(`inspector ${url}`)); });
  let id = 0;
  const pending = new Map();
  ws.onmessage = ({ data }) => {
    const msg = JSON.parse(data);
    if (!pending.has(msg.id)) return;
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(`${msg.error.message} (${url})`)) : resolve(msg.result);
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    pending.set(++id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { send, close: () => ws.close() };
}

/** One worker's isolate (and Miniflare's entry worker) profiled over `TOTAL` requests. */
async function profileUnderLoad(port, worker, make) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const sessions = {};
  for (const [name, id] of [['gateway', `core:user:${worker}`], ['entry', 'core:entry']]) {
    const target = targets.find((t) => t.id === id);
    if (!target) throw new Error(`no inspector target ${id}; have ${targets.map((t) => t.id).join(', ')}`);
    sessions[name] = await devtools(target.webSocketDebuggerUrl);
    await sessions[name].send('Profiler.enable');
    await sessions[name].send('Profiler.setSamplingInterval', { interval: SAMPLING_US });
  }
  for (const s of Object.values(sessions)) await s.send('Profiler.start');
  const pids = workerdPids();
  const cpuBefore = cpuSeconds(pids);
  const load = await run(make, { total: TOTAL, concurrency: CONCURRENCY });
  const cpuUs = ((cpuSeconds(pids) - cpuBefore) * 1e6) / TOTAL;
  const profiles = {};
  for (const [name, s] of Object.entries(sessions)) {
    profiles[name] = (await s.send('Profiler.stop')).profile;
    await s.send('Profiler.disable');
    s.close();
  }
  return { profiles, cpuUs, load };
}

const origin = await startOrigin(ORIGIN_PORT);
const inspectorPort = await freePort();
const mf = new Miniflare(convertV4MiniflareOptions({
  host: '127.0.0.1', port: 0, cf: false, inspectorPort, handleStructuredLogs: quietLogs,
  workers: [
    gatewayWorker('gateway-tight', null, origin.url, QUOTA ? QUOTA_VARS : TIGHT_VARS, BUILD_DIR),
    ...(PEERS ? [jsFloorWorker('passthrough', null, origin.url), tsPeerHardenedWorker('ts-peer-hardened', origin.url)] : []),
  ],
}));
try {
  const base = (await mf.ready).origin;
  const db = await mf.getD1Database('DB', 'gateway-tight');
  for (const stmt of migrationStatements()) await db.prepare(stmt).run();
  const token = QUOTA ? null : (await spendAndBuy({ url: `${base}/mcp`, headers: MCP_HEADERS, body: INIT }, 'profile')).token;
  const headers = { ...MCP_HEADERS, 'x-api-key': testKey('profile'), ...(token ? { 'x-access-token': token } : {}) };
  const req = { url: `${base}/mcp`, headers, body: CALL };
  await run(() => req, { total: 300, concurrency: CONCURRENCY }); // warm: compiled, caches filled

  const profiled = await profileUnderLoad(inspectorPort, 'gateway-tight', () => req);
  const { profiles, cpuUs, load } = profiled;
  const dir = join(ROOT, 'bench', 'profiles');
  mkdirSync(dir, { recursive: true });
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  writeFileSync(join(dir, `${slug}.cpuprofile`), JSON.stringify(profiles.gateway));
  writeFileSync(join(dir, `${slug}-entry.cpuprofile`), JSON.stringify(profiles.entry));
  const markdown = summarize(profiles, { total: TOTAL, concurrency: CONCURRENCY, samplingUs: SAMPLING_US, cpuUs, rps: load.rps, file: `bench/profiles/${slug}.cpuprofile`, path: QUOTA ? 'quota' : 'token' });
  console.log(markdown);
  writeBlock({ label, block: QUOTA ? 'profile-quota' : 'profile', markdown });
  if (PEERS) {
    // The peers are reached by name with the gateway's own request (its host, token and key).
    const peers = [['JS floor (bare pass-through)', 'passthrough'], ['hardened TS peer', 'ts-peer-hardened']];
    const runs = [['gateway, token path', profiled]];
    for (const [title, name] of peers) {
      const peerReq = { ...req, headers: { ...headers, 'mf-route-override': name } };
      await run(() => peerReq, { total: 300, concurrency: CONCURRENCY });
      runs.push([title, await profileUnderLoad(inspectorPort, name, () => peerReq)]);
    }
    const table = compare(runs, { total: TOTAL, concurrency: CONCURRENCY });
    console.log(table);
    writeBlock({ label, block: 'profile-peers', markdown: table });
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await mf.dispose();
  origin.stop();
  request.agent.destroy();
}
