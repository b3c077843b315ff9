// `node bench/deadline.mjs`: what an origin fetch's deadline costs in workerd, by itself. Seven
// pass-through workers in one workerd, alike but for how they wait for the origin: bare (the JS
// floor), with an abort signal, with a timer cleared once the headers are in (the gateway's proxy),
// with a timer left to run out (its callback a no-op by then), with both a timer and a signal (the
// gateway's proxy before the signal was dropped), with `AbortSignal.timeout`, and with the
// gateway's timer under Node.js's timers (the compatibility date's, without the gateway's flag).
// Each copies the answer into a new `Response`, as the gateway's relay does. Prints workerd CPU
// per request against the bare one, 8 in flight and one at a time (BENCH_REQUESTS per round,
// BENCH_ROUNDS rounds interleaved), and the latency each adds one request at a time (the workers
// taken in turn request by request, BENCH_PASSES passes). Asserts nothing.
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { interleaved, rounds } from './measure.mjs';
import { pinCores } from './cpu.mjs';
import { quietLogs, startOrigin, CALL, MCP_HEADERS } from './targets.mjs';
import { COMPATIBILITY } from '../tests/support/gateway.mjs';

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 1_500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PASSES = Number(process.env.BENCH_PASSES ?? 1_000);

// How each worker waits for the origin's headers; `send(init)` is the fetch itself.
const WAITS = {
  bare: 'return send(init);',
  'abort signal': 'const c = new AbortController(); init.signal = c.signal; return send(init);',
  'timer, cleared': `return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(null), 30000);
    send(init).then((r) => { clearTimeout(t); resolve(r); }, (e) => { clearTimeout(t); reject(e); });
  });`,
  'timer, left to run': `return new Promise((resolve, reject) => {
    setTimeout(() => resolve(null), 30000);
    send(init).then(resolve, reject);
  });`,
  'timer and abort signal': `const c = new AbortController(); init.signal = c.signal;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { c.abort(); resolve(null); }, 30000);
    send(init).then((r) => { clearTimeout(t); resolve(r); }, (e) => { clearTimeout(t); reject(e); });
  });`,
  'AbortSignal.timeout, as a timer': `return new Promise((resolve, reject) => {
    AbortSignal.timeout(30000).onabort = () => resolve(null);
    send(init).then(resolve, reject);
  });`,
};

const script = (wait) => `
export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    const body = await req.arrayBuffer();
    const init = { method: 'POST', headers: req.headers, body, redirect: 'manual' };
    const send = (init) => fetch(env.ORIGIN_URL + u.pathname, init);
    const wait = () => { ${wait} };
    const r = await wait();
    if (r === null) return new Response('timeout', { status: 504 });
    return new Response(r.body, { status: r.status, headers: new Headers(r.headers) });
  },
};`;

// Every worker runs with the gateway's compatibility flags (wrangler.toml), whose timers are the
// Web platform's; this one's are Node's, as the compatibility date alone would make them.
const NODE_TIMERS = 'timer, cleared, with Node.js timers';
WAITS[NODE_TIMERS] = WAITS['timer, cleared'];
const nodeFlags = COMPATIBILITY.compatibilityFlags.filter((f) => f !== 'no_nodejs_global_timers');

const origin = await startOrigin(18796);
const names = Object.keys(WAITS);
const workers = names.map((label, i) => ({
  name: `deadline-${i}`,
  routes: [`deadline-${i}.bench/*`],
  modules: true,
  ...COMPATIBILITY,
  ...(label === NODE_TIMERS ? { compatibilityFlags: nodeFlags } : {}),
  bindings: { ORIGIN_URL: origin.url },
  script: script(WAITS[label]),
}));
const mf = new Miniflare(convertV4MiniflareOptions({ host: '127.0.0.1', port: 0, cf: false, handleStructuredLogs: quietLogs, workers }));
try {
  const base = (await mf.ready).origin;
  if (pinCores([origin.pid])) console.log('workerd pinned to core 0, the load generator and the origin to the others (BENCH_PIN=1)');
  const targets = names.map((label, i) => ({ label, make: () => ({ url: `${base}/mcp`, host: `deadline-${i}.bench`, headers: MCP_HEADERS, body: CALL }) }));
  for (const concurrency of [8, 1]) {
    const out = await rounds(targets, { rounds: ROUNDS, total: concurrency === 1 ? Math.ceil(TOTAL / 3) : TOTAL, concurrency });
    console.log(`\n${concurrency} in flight, median of ${ROUNDS} interleaved rounds`);
    console.log('| how the worker waits for the origin | CPU µs/req | × bare | added µs/req |\n|---|---|---|---|');
    for (const r of out) console.log(`| ${r.label} | ${r.cpuUs.toFixed(0)} | ${(r.cpuUs / out[0].cpuUs).toFixed(2)} | ${(r.cpuUs - out[0].cpuUs).toFixed(0)} |`);
  }
  const lat = await interleaved(targets, { passes: PASSES });
  console.log(`\nlatency one request at a time, ${PASSES} passes taking the workers in turn`);
  console.log('| how the worker waits for the origin | p50 ms | added at p50, ms | p99 ms |\n|---|---|---|---|');
  for (const r of lat) console.log(`| ${r.label} | ${r.p50.toFixed(3)} | ${r.added.toFixed(3)} | ${r.p99.toFixed(3)} |`);
} finally {
  await mf.dispose();
  origin.stop();
}
