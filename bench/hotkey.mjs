// `node bench/hotkey.mjs` (or `npm run bench -- --hotkey`): one hot client sent through several
// gateway isolates at once. In one workerd, HOTKEY_ISOLATES copies of the gateway (gw-1..gw-N,
// each its own isolate, each loading build/) share one set of Durable Object classes: gw-1
// defines GateCounter, CredentialCounter and MetricsObject, and every copy reaches the counters
// through a spy (the technique of tests/support/counter-spy.mjs) whose objects count each call
// and forward it to the real object. Requests go round-robin over the copies (Miniflare's
// MF-Route-Override), HOTKEY_CONCURRENCY in flight, under a quota that never denies.
//
// Per path, after HOTKEY_WARMUP_SECONDS of the same load (the leases grow), HOTKEY_SECONDS
// measured: admitted requests, counter calls per admitted request, admitted requests/s, and
// workerd's CPU per request (cpu.mjs):
// - the quota path: one gateway-issued API key (the client's counter leases units to each
//   isolate, `metering::lease`);
// - the token path: the same kind of key with an access token bought through the PoW 402 from a
//   tight copy (`gw-buy`, which the host routes to, so the token's audience is the copies' too),
//   with a grant of 1 000 000 calls (`credentials::grant`);
// - the ceiling, end to end: the same load under an unverified rate key (RATE_KEY_UNVERIFIED),
//   which is never leased (src/routes/gate/mod.rs, `by_quota`): every request asks the address
//   ceiling, checks the key's counter and charges the address ceiling, three counter calls;
// - the ceiling of one object: a worker calling one GateCounter object (through the spy, as the
//   gateway does) in a tight loop, with the body the gateway sent it on the un-leased path.
// The target: at most 1 counter call per 100 admitted requests in steady state on both paths.
// Writes the table to stdout and to bench/hotkey.md. A benchmark: it asserts nothing about speed;
// it fails only if a request is refused or the setup does not hold.
//
// Note on the leases' clock: a quota lease lives 10 s (`lease::LEASE_MS`), so each isolate asks
// its counter at least once per 10 s per client; below ~10 admitted requests/s per isolate that
// alone is more than 1 call per 100.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request } from './load.mjs';
import { cpuSeconds, workerdPids } from './cpu.mjs';
import { gatewayWorker, quietLogs, startOrigin, CALL, INIT, MCP_HEADERS, TIGHT_VARS } from './targets.mjs';
import { spendAndBuy } from './buy-token.mjs';
import { gatewayCommit } from './results-file.mjs';
import { COMPATIBILITY, DURABLE_OBJECTS, ROOT, freePort, migrationStatements, testKey } from '../tests/support/gateway.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const ISOLATES = env('HOTKEY_ISOLATES', 4);
const CONCURRENCY = env('HOTKEY_CONCURRENCY', 16);
// Steady state is past the leases' growth and spans two of a quota lease's 10 s lifetimes.
const SECONDS = env('HOTKEY_SECONDS', 20);
const WARMUP_SECONDS = env('HOTKEY_WARMUP_SECONDS', 10);
// HOTKEY_BUILD: another commit's build instead of build/ (its table goes to stdout only).
const BUILD_DIR = process.env.HOTKEY_BUILD;
const HOST = 'hot.bench';
// A minute's quota, call ceiling and address ceiling that never deny here: the most the
// configuration takes (1..=1 000 000 a minute, crates/gatehouse-core/src/config).
const BIG = '1000000';
const GRANT = TIGHT_VARS.TOKEN_GRANT_REQUESTS; // 1 000 000, the most a token may carry
const AUDIT = process.env.BENCH_AUDIT_OFF ? { AUDIT_ENABLED: 'false' } : {};

// The spy: its objects count every call (per class) and forward it to the real object of the same
// name in gw-1. `/capture` keeps the body of the next /quota call to an unverified key's counter
// (`quota:hdr:…`); `/loop?n=&c=` sends that body, clock refreshed, n times over c lanes to one
// object through the spy class, as the gateway would.
const SPY = `
const calls = { CredentialCounter: 0, GateCounter: 0 };
let capture = false, captured = null;
function spy(className) {
  return class {
    constructor(state, env) { this.env = env; this.state = state; }
    async fetch(req) {
      calls[className]++;
      const name = this.state.id.name ?? this.state.id.toString();
      if (capture && className === 'GateCounter' && name.startsWith('quota:hdr:') && new URL(req.url).pathname === '/quota') {
        capture = false;
        captured = { url: req.url, body: await req.clone().text() };
      }
      const ns = className === 'CredentialCounter' ? this.env.REAL_CREDENTIALS : this.env.REAL_COUNTERS;
      return ns.get(ns.idFromName(name)).fetch(req);
    }
  };
}
export const SpyCredentials = spy('CredentialCounter');
export const SpyCounters = spy('GateCounter');
export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    if (u.pathname === '/capture') { capture = true; captured = null; }
    if (u.pathname === '/captured') return Response.json(captured);
    if (u.pathname === '/loop') {
      if (!captured) return new Response('nothing captured', { status: 409 });
      const n = Number(u.searchParams.get('n')), c = Number(u.searchParams.get('c'));
      const body = JSON.parse(captured.body);
      const stub = env.SPY_Q.get(env.SPY_Q.idFromName('quota:hotkey-loop'));
      let done = 0;
      const lane = async () => {
        while (done < n) {
          done++;
          body.now_ms = Date.now();
          const r = await stub.fetch(captured.url, { method: 'POST', body: JSON.stringify(body) });
          if (r.status !== 200) throw new Error('object answered ' + r.status);
          await r.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: c }, lane));
      return Response.json({ done });
    }
    return Response.json(calls);
  },
};`;

const spyWorker = {
  name: 'spy',
  modules: true,
  script: SPY,
  ...COMPATIBILITY,
  durableObjects: {
    SPY_C: { className: 'SpyCredentials', useSQLite: true },
    SPY_Q: { className: 'SpyCounters', useSQLite: true },
    REAL_CREDENTIALS: { className: 'CredentialCounter', scriptName: 'gw-1', useSQLite: true },
    REAL_COUNTERS: { className: 'GateCounter', scriptName: 'gw-1', useSQLite: true },
  },
};

/** One copy of the gateway: its counters are the spy's, its other objects gw-1's; gw-1 also
 * defines the real classes. One D1 for all (one deployment). */
function copy(name, originUrl, vars, host = null) {
  const first = name === 'gw-1';
  const shared = (binding) => (first ? DURABLE_OBJECTS[binding] : { ...DURABLE_OBJECTS[binding], scriptName: 'gw-1' });
  return {
    ...gatewayWorker(name, host, originUrl, { ...AUDIT, ...vars }, BUILD_DIR),
    d1Databases: { DB: 'bench-hotkey' },
    durableObjects: {
      COUNTERS: { className: 'SpyCounters', scriptName: 'spy', useSQLite: true },
      CREDENTIALS: { className: 'SpyCredentials', scriptName: 'spy', useSQLite: true },
      METRICS: shared('METRICS'),
      ...(first ? { REAL_COUNTERS: DURABLE_OBJECTS.COUNTERS, REAL_CREDENTIALS: DURABLE_OBJECTS.CREDENTIALS } : {}),
    },
  };
}

const names = (prefix) => Array.from({ length: ISOLATES }, (_, i) => `${prefix}-${i + 1}`);
const GW = names('gw'); // quota and token paths
const GWU = names('gwu'); // the unverified rate key: never leased
const LEASED_VARS = { QUOTA_PER_MINUTE: BIG, CALL_CEILING_PER_MINUTE: BIG };
const UNVERIFIED_VARS = { ...LEASED_VARS, RATE_KEY_UNVERIFIED: 'true', ADDRESS_CEILING_PER_MINUTE: BIG };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const loadBefore = loadavg()[0]; // how busy the machine was before the run (1-minute load average)
const origin = await startOrigin(await freePort());
const mf = new Miniflare(convertV4MiniflareOptions({
  host: '127.0.0.1', port: 0, cf: false, handleStructuredLogs: quietLogs,
  workers: [
    ...GW.map((n) => copy(n, origin.url, LEASED_VARS)),
    ...GWU.map((n) => copy(n, origin.url, UNVERIFIED_VARS)),
    // The token's seller: one free request a minute, then the 402. The host routes here.
    copy('gw-buy', origin.url, TIGHT_VARS, HOST),
    spyWorker,
  ],
}));

let exitCode = 0;
try {
  const base = (await mf.ready).origin;
  const db = await mf.getD1Database('DB', 'gw-1');
  for (const stmt of migrationStatements()) await db.prepare(stmt).run();
  const spy = async (path = '/') => JSON.parse((await request({ url: `${base}${path}`, method: 'GET', headers: { 'mf-route-override': 'spy' } })).body);

  const headersFor = (extra) => ({ ...MCP_HEADERS, ...extra });
  const { token } = await spendAndBuy({ url: `${base}/mcp`, host: HOST, headers: MCP_HEADERS, body: INIT }, 'hot-token');

  /** Closed-loop load for `seconds`, round-robin over `copies`; every answer must be a 200. */
  async function load(copies, headers, seconds) {
    let next = 0, admitted = 0;
    const deadline = performance.now() + seconds * 1000;
    const lane = async () => {
      while (performance.now() < deadline) {
        const to = copies[next++ % copies.length];
        const r = await request({ url: `${base}/mcp`, host: HOST, headers: { ...headers, 'mf-route-override': to }, body: CALL });
        if (r.status !== 200) throw new Error(`${to} answered ${r.status}: ${r.body.slice(0, 200)}`);
        admitted++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    return { admitted, ms: performance.now() - started };
  }

  /** Warm-up, then the measured run with the spy's counts and workerd's CPU around it. */
  async function scenario(label, copies, headers) {
    const w0 = await spy();
    const warm = await load(copies, headers, WARMUP_SECONDS);
    await sleep(200); // renewals in the background land before the count starts
    const pids = workerdPids();
    const [calls0, cpu0] = [await spy(), cpuSeconds(pids)];
    const { admitted, ms } = await load(copies, headers, SECONDS);
    await sleep(200); // and those the run started are its own
    const [calls1, cpu1] = [await spy(), cpuSeconds(pids)];
    const q = calls1.GateCounter - calls0.GateCounter, c = calls1.CredentialCounter - calls0.CredentialCounter;
    const warmCalls = calls0.GateCounter + calls0.CredentialCounter - w0.GateCounter - w0.CredentialCounter;
    return { label, admitted, q, c, calls: q + c, rps: (admitted / ms) * 1000, cpuUs: ((cpu1 - cpu0) * 1e6) / admitted, warm: { admitted: warm.admitted, calls: warmCalls } };
  }

  const quota = await scenario('quota path (API key; leased)', GW, headersFor({ 'x-api-key': testKey('hot-quota') }));
  const tokenPath = await scenario('token path (API key + access token)', GW, headersFor({ 'x-api-key': testKey('hot-token'), 'x-access-token': token }));
  // Every request of the token path pays with the token: one that fell through to the client's
  // quota (a lease the isolate could not renew) would be measuring the quota path instead.
  if (tokenPath.q !== 0) {
    const message = `the token path reached the client's quota counter ${tokenPath.q} times`;
    if (!BUILD_DIR) throw new Error(message);
    console.log(`${BUILD_DIR}: ${message}`);
  }
  await spy('/capture');
  const unleased = await scenario('ceiling: un-leased quota path (unverified key: every request reaches the counters)', GWU, headersFor({ 'x-api-key': 'hot-unverified' }));
  const captured = await spy('/captured');
  if (!captured) throw new Error('the spy captured no call to the unverified key\'s counter');

  // One object alone: calls through the spy to one GateCounter, as fast as one worker can send.
  const LOOP_BATCH = 200;
  const loop = async (seconds) => {
    let done = 0;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    while (performance.now() < deadline) {
      const r = await request({ url: `${base}/loop?n=${LOOP_BATCH}&c=${CONCURRENCY}`, method: 'GET', headers: { 'mf-route-override': 'spy' } });
      if (r.status !== 200) throw new Error(`loop: ${r.status} ${r.body.slice(0, 200)}`);
      done += JSON.parse(r.body).done;
    }
    return { done, ms: performance.now() - started };
  };
  await loop(Math.min(WARMUP_SECONDS, 1));
  const pids = workerdPids();
  const cpu0 = cpuSeconds(pids);
  const object = await loop(SECONDS);
  const objectRow = { calls: object.done, rps: (object.done / object.ms) * 1000, cpuUs: ((cpuSeconds(pids) - cpu0) * 1e6) / object.done };

  const f = (n, d = 0) => n.toFixed(d);
  const per100 = (r) => (r.calls * 100) / r.admitted;
  const verdict = (r) => (r.calls * 100 <= r.admitted ? 'yes' : 'no');
  const vs = (r) => `${f((r.rps / unleased.rps) * 100)}% / ${f((r.rps / objectRow.rps) * 100)}%`;
  const row = (r, target = true) => `| ${r.label} | ${r.admitted} | ${r.q} / ${r.c} | ${f(r.calls / r.admitted, 4)} | ${f(per100(r), 2)} | ${target ? verdict(r) : '—'} | ${f(r.rps)} | ${vs(r)} | ${f(r.cpuUs)} |`;
  const lines = [
    `One hot client through ${ISOLATES} gateway isolates (gw-1..gw-${ISOLATES}, one workerd, counters shared through a counting spy), ` +
      `tools/call round-robin over the copies, ${CONCURRENCY} in flight, quota and call ceiling ${BIG} a minute. ` +
      `Per path ${WARMUP_SECONDS} s of warm-up, then ${SECONDS} s measured: counter calls are the spy's counts over the measured run ` +
      '(GateCounter / CredentialCounter), CPU is workerd\'s own per admitted request. The ceiling rows are every request reaching ' +
      'the counters: the same load under an unverified rate key (never leased: ask the address ceiling, check the key\'s counter, ' +
      `charge the address ceiling), and one GateCounter object called through the spy in a tight loop from a worker (${CONCURRENCY} lanes, ` +
      'the body the gateway sent it on the un-leased path). Target: at most 1 counter call per 100 admitted requests on both paths. ' +
      'A quota lease lives 10 s (`lease::LEASE_MS`), so each isolate asks its counter at least once per 10 s: below ~10 admitted ' +
      'requests/s per isolate that alone exceeds 1 per 100.',
    '',
    '| path | admitted | counter calls (Gate / Credential) | calls per admitted | per 100 | ≤ 1 per 100 | admitted req/s | vs un-leased / vs one object | CPU µs/req |',
    '|---|---|---|---|---|---|---|---|---|',
    row(quota),
    row(tokenPath),
    row(unleased, false),
    `| ceiling: one GateCounter object, tight loop from a worker (calls/s) | ${objectRow.calls} calls | — | 1 | — | — | ${f(objectRow.rps)} | — | ${f(objectRow.cpuUs)} |`,
  ];
  // A quota lease lives 10 s (`lease::LEASE_MS`): each isolate's lease expires about SECONDS / 10
  // times in the run, each time one counter call, however fast it admits.
  const expiries = (ISOLATES * SECONDS) / 10;
  lines.push('',
    `Quota path: ${f(quota.rps / ISOLATES)} admitted req/s per isolate; the leases' 10 s lifetime alone accounts for about ${f(expiries)} ` +
      `of its ${quota.calls} calls (one per isolate per 10 s), ${f((expiries * 100) / quota.admitted, 2)} per 100 at this rate.`,
    ...[quota, tokenPath].map((r) => `Warm-up (${r.label.split(' (')[0]}): ${r.warm.calls} counter calls for ${r.warm.admitted} admitted requests (the leases growing; a token's first use in each isolate).`));
  const table = lines.join('\n');
  console.log(table);
  if (!BUILD_DIR) writeFileSync(join(ROOT, 'bench', 'hotkey.md'), `# Hot key: one client through ${ISOLATES} isolates\n\n` +
    '`node bench/hotkey.mjs` (or `npm run bench -- --hotkey`) writes this file; HOTKEY_ISOLATES, HOTKEY_CONCURRENCY, ' +
    'HOTKEY_SECONDS and HOTKEY_WARMUP_SECONDS change the load. See bench/hotkey.mjs for the method. ' +
    `The figures are the last run's: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, gateway commit ${gatewayCommit()}, ` +
    `${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores shared by workerd, the load generator and the origin ` +
    `(1-minute load average ${loadBefore.toFixed(2)} before the run).\n\n` +
    `${table}\n`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await mf.dispose();
  origin.stop();
  request.agent.destroy();
}
process.exit(exitCode);
