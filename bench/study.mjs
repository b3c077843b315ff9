// `npm run study`: does a 402 let agents heal themselves where a 429 stalls them? Twenty agents on
// the official MCP SDK each call a tool at 100 requests a minute against a 60-a-minute quota (STUDY_QUOTA), for
// STUDY_SECONDS (default 120), under five server behaviours in turn: 429 without Retry-After, 429
// with Retry-After, 402 with proof of work, 402 with L402 against a real LNbits, and 402 with
// x402 against a local chain and the official facilitator, then two stock payers of other
// clients' making on that chain: x402 inside MCP (the in-band refusal, paid in `_meta`) with the
// official Python x402 MCP client, and MPP (HTTP 402, `Authorization: Payment`) with mppx's fetch
// wrapper. 429 agents follow the typical policy (retry at once, at most 3 times; or wait
// Retry-After, at most 3 times); the other 402 agents use the kit (the fetch wrapper, with a
// wallet for L402, a signer for x402). During the proof-of-work run a D1 fault is injected for
// 12 s. Prints a table, writes bench/study.md and bench/study.png; STUDY_ONLY=<key> (429, 429ra,
// pow, l402, x402, x402mcp, mpp) runs one behaviour and only prints.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Mppx, evm } from 'mppx-client/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';
import { startOrigin } from '../demo/origin.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { TOKEN_NAME, TOKEN_VERSION } from '../demo/x402/chain.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { ROOT, startGateway, testKey } from '../tests/support/gateway.mjs';
import { startX402 } from '../tests/support/x402.mjs';

const SECONDS = Number(process.env.STUDY_SECONDS ?? 120);
const AGENTS = Number(process.env.STUDY_AGENTS ?? 20);
const QUOTA = Number(process.env.STUDY_QUOTA ?? 60);
const INTERVAL_MS = 600; // 100 requests a minute
const FAULT_MS = 12_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs, q) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : null);

/**
 * CPU seconds used so far by this process's workerd children (utime + stime, /proc). Only its own
 * descendants: a test run or a demo sharing the machine has workerd processes too, and counting
 * theirs made the figure depend on what else was running.
 */
function workerdCpuSeconds() {
  const procs = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {}
  }
  const ours = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) if (!ours.has(pid) && ours.has(p.ppid)) { ours.add(pid); grew = true; }
  }
  let ticks = 0;
  for (const pid of ours) {
    try {
      if (pid !== process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('workerd')) ticks += procs.get(pid).ticks;
    } catch {}
  }
  return ticks / 100;
}

/** A fetch with the typical client policy for 429: retry, at most `attempts` times. */
function retrying429({ honourRetryAfter, attempts = 3, onDenied, stats }) {
  return async (url, init) => {
    for (let i = 0; ; i++) {
      let res = await fetch(url, init);
      if (res.status >= 500) stats.fiveXX++;
      if (res.status !== 429) return res;
      if (!honourRetryAfter) {
        // The behaviour under study: a 429 that does not say when to come back.
        const headers = new Headers(res.headers);
        headers.delete('retry-after');
        res = new Response(res.body, { status: res.status, headers });
      }
      onDenied();
      if (i >= attempts) return res;
      const wait = honourRetryAfter ? Math.min(60, Number(res.headers.get('retry-after')) || 1) * 1000 : 0;
      await res.arrayBuffer();
      if (wait) await sleep(wait);
    }
  };
}

async function agent(i, behaviour, url, pay, deadline, stats) {
  let deniedAt = null;
  const onDenied = () => { deniedAt ??= performance.now(); };
  const counting = (inner) => async (u, init) => {
    const res = await inner(u, init);
    if (res.status >= 500 && !(res.status === 503 && stats.faultActive)) stats.fiveXX++;
    return res;
  };
  // mppx's fetch wrapper (it sends Accept-Payment, so it is answered with the HTTP 402) over a
  // fetch that only watches for the 402s it meets.
  const mppx = behaviour.policy === 'mppx' && Mppx.create({
    methods: [evm.charge({ account: pay(i).signer, authorization: { name: TOKEN_NAME, version: TOKEN_VERSION } })],
    polyfill: false,
    fetch: counting(async (u, init) => {
      const res = await fetch(u, init);
      if (res.status === 402) onDenied();
      return res;
    }),
  });
  const fetchFn = behaviour.policy === 'kit'
    ? gatehouseFetch({ fetch: counting(fetch), ...pay(i), onEvent: (e) => { if (e.type === 'challenge') onDenied(); if (e.type === 'unavailable') stats.recoveredFromFault++; } })
    : mppx ? mppx.fetch : retrying429({ honourRetryAfter: behaviour.policy === 'retry-after', onDenied, stats });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFn, requestInit: { headers: { 'x-api-key': testKey(`study-${behaviour.key}-${i}`), 'user-agent': 'study-agent/1.0' } } });
  const client = new Client({ name: `study-agent-${i}`, version: '1.0.0' });
  try {
    await client.connect(transport);
    for (let n = 0; performance.now() < deadline; n++) {
      const started = performance.now();
      await client.callTool({ name: 'echo', arguments: { message: `agent ${i} call ${n}` } });
      stats.ok++;
      if (deniedAt !== null) {
        stats.recovery.push(performance.now() - deniedAt);
        deniedAt = null;
      }
      await sleep(Math.max(0, INTERVAL_MS - (performance.now() - started)));
    }
  } catch (e) {
    stats.failedRuns++;
    stats.errors.push(String(e.message).slice(0, 120));
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * The agents of the x402-in-MCP row: the official Python x402 MCP client, all of them in one
 * Python process (demo/x402_mcp_agent.py), each with its own API key and funded account, calling
 * at the same rate until the same deadline; its JSON lines fill `stats` as the JS agents do.
 * Started before the run's clock, and resolved once the interpreter has imported everything;
 * `go(deadline)` then sends the configuration and resolves when the agents are done.
 */
async function pythonX402Agents(behaviour, url, x402, stats) {
  const python = join(ROOT, '.tools', 'x402py', 'bin', 'python');
  const privateKey = (account) => `0x${Buffer.from(account.getHdKey().privateKey).toString('hex')}`;
  const child = spawn(python, [join(ROOT, 'demo', 'x402_mcp_agent.py')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr = (stderr + c).slice(-2000); });
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`x402_mcp_agent.py exited ${code}: ${stderr}`))));
  });
  let ready;
  const isReady = new Promise((r) => { ready = r; });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line);
    if (e.event === 'ready') ready();
    if (e.event === 'call') {
      stats.ok++;
      if (e.recovery_ms !== null && e.recovery_ms !== undefined) stats.recovery.push(e.recovery_ms);
    }
    if (e.event === 'refused') stats.errors.push(`refused: ${e.error}`.slice(0, 120));
    if (e.event === 'http' && !(e.status === 503 && stats.faultActive)) stats.fiveXX++;
    if (e.event === 'failed') { stats.failedRuns++; stats.errors.push(e.error.slice(0, 120)); }
  });
  await Promise.race([isReady, exited]);
  return {
    go: (deadline) => {
      child.stdin.end(JSON.stringify({
        url,
        network: x402.chain.network,
        asset: x402.chain.token,
        cap: '100000',
        calls: null,
        // The JS agents' deadline, on the wall clock both processes share.
        deadline_unix_ms: Date.now() + (deadline - performance.now()),
        interval_ms: INTERVAL_MS,
        user_agent: 'study-agent/1.0',
        agents: Array.from({ length: AGENTS }, (_, i) => ({
          name: String(i),
          api_key: testKey(`study-${behaviour.key}-${i}`),
          private_key: privateKey(x402.chain.payers[i % x402.chain.payers.length]),
        })),
      }));
      return exited;
    },
  };
}

async function run(behaviour, ln, x402) {
  let echoes = 0;
  const origin = await startOrigin({ onEvent: (e) => { if (e.kind === 'echo') echoes++; } });
  const gateway = await startGateway({ originUrl: origin.url, vars: { RATE_KEY_HEADER: 'x-api-key', QUOTA_PER_MINUTE: String(QUOTA), ...behaviour.vars(ln, x402) } });
  const stats = { ok: 0, failedRuns: 0, recovery: [], fiveXX: 0, errors: [], recoveredFromFault: 0, faultActive: false };
  const python = behaviour.policy === 'python-x402-mcp' ? await pythonX402Agents(behaviour, gateway.mcpUrl, x402, stats) : null;
  const cpuBefore = workerdCpuSeconds();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  const wallet = behaviour.key === 'l402' ? { payInvoice: async ({ invoice }) => ({ preimage: await ln.pay(invoice) }) } : undefined;
  // Each paying agent (x402, MPP) signs with its own funded account.
  const pay = (i) => (behaviour.key === 'x402' ? { x402: { signer: x402.chain.payers[i % x402.chain.payers.length] } }
    : behaviour.key === 'mpp' ? { signer: x402.chain.payers[i % x402.chain.payers.length] } : { wallet });
  const fault = behaviour.fault ? (async () => {
    await sleep(SECONDS * 400);
    stats.faultActive = true;
    // Challenges cannot be stored or redeemed, and token holders' revocation lists go stale.
    await gateway.db.prepare('ALTER TABLE challenges RENAME TO challenges_away').run();
    await gateway.db.prepare('ALTER TABLE revoked_tokens RENAME TO revoked_away').run();
    await sleep(FAULT_MS);
    await gateway.db.prepare('ALTER TABLE challenges_away RENAME TO challenges').run();
    await gateway.db.prepare('ALTER TABLE revoked_away RENAME TO revoked_tokens').run();
    await sleep(2_000);
    stats.faultActive = false;
  })() : Promise.resolve();
  const agents = python
    ? [python.go(deadline)]
    : Array.from({ length: AGENTS }, (_, i) => agent(i, behaviour, gateway.mcpUrl, pay, deadline, stats));
  await Promise.all([...agents, fault]);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = workerdCpuSeconds() - cpuBefore;
  await sleep(500);
  await gateway.dispose();
  await origin.close();
  return {
    name: behaviour.name,
    ok: stats.ok,
    // Over the whole window: agents that stopped for a human count as producing nothing after.
    throughput: stats.ok / Math.max(elapsed, SECONDS),
    failed: stats.failedRuns,
    p50: quantile(stats.recovery, 0.5),
    p95: quantile(stats.recovery, 0.95),
    cpuMsPerAdmitted: (cpu * 1000) / Math.max(1, stats.ok),
    fiveXX: stats.fiveXX,
    originCount: echoes,
    faultRecoveries: stats.recoveredFromFault,
    errors: [...new Set(stats.errors)].slice(0, 3),
  };
}

const behaviours = [
  { name: '429 without Retry-After', key: '429', policy: 'retry-now', vars: () => ({ LEGACY_USER_AGENTS: 'study-agent/*' }) },
  { name: '429 with Retry-After', key: '429ra', policy: 'retry-after', vars: () => ({ LEGACY_USER_AGENTS: 'study-agent/*' }) },
  { name: '402 with proof of work', key: 'pow', policy: 'kit', fault: true, vars: () => ({ CHALLENGE_OFFERS: 'pow' }) },
  { name: '402 with L402 (LNbits)', key: 'l402', policy: 'kit', vars: (ln) => ({ CHALLENGE_OFFERS: 'l402', L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY: 'study-root-key-0123456789abcdef0123456789' }) },
  { name: '402 with x402 (local chain)', key: 'x402', policy: 'kit', vars: (_, x402) => x402.vars({ CHALLENGE_OFFERS: 'x402' }) },
  // In-band answers (the gateway's default) for the client that reads them: the refused tool call
  // carries the x402 PaymentRequired, paid in `_meta["x402/payment"]`.
  { name: '402 in-band, x402 in MCP (local chain)', key: 'x402mcp', policy: 'python-x402-mcp', vars: (_, x402) => x402.vars({ CHALLENGE_OFFERS: 'x402', IN_BAND_CHALLENGES: 'true' }) },
  { name: '402 with MPP (local chain)', key: 'mpp', policy: 'mppx', vars: (_, x402) => x402.vars({ CHALLENGE_OFFERS: 'mpp', IN_BAND_CHALLENGES: 'true' }) },
].filter((b) => !process.env.STUDY_ONLY || b.key === process.env.STUDY_ONLY);
const POLICIES = { '429': 'retry at once, 3 times', '429ra': 'wait Retry-After, 3 times', pow: 'kit: solve, redeem, retry', l402: 'kit: pay, redeem, retry', x402: 'kit: sign, pay per call, retry', x402mcp: 'official Python x402 MCP client: pay in _meta, retry', mpp: 'mppx fetch: sign a Payment credential, retry' };

function plotHtml(rows) {
  const bar = (title, key, fmt) => {
    const max = Math.max(1, ...rows.map((r) => r[key] ?? 0));
    const bars = rows.map((r, i) => {
      const v = r[key] ?? 0;
      const w = 380 * v / max;
      return `<text x="0" y="${30 + i * 28}" font-size="12">${r.name}</text><rect x="190" y="${18 + i * 28}" width="${w}" height="16" fill="#2f6fdb"/><text x="${196 + w}" y="${30 + i * 28}" font-size="12">${r[key] === null ? 'n/a' : fmt(v)}</text>`;
    }).join('');
    return `<figure><figcaption>${title}</figcaption><svg width="640" height="${24 + rows.length * 28}">${bars}</svg></figure>`;
  };
  return `<!doctype html><meta charset="utf-8"><style>body{font:14px system-ui;margin:16px}figure{margin:0 0 12px}figcaption{font-weight:600;margin-bottom:4px}</style>
  <h3>${AGENTS} agents at 100 req/min against ${QUOTA}/min, ${SECONDS} s per behaviour</h3>
  ${bar('Useful throughput (successful calls/s)', 'throughput', (v) => v.toFixed(1))}
  ${bar('Agent runs needing a human (of ' + AGENTS + ')', 'failed', (v) => String(v))}
  ${bar('Recovery latency p95 (ms)', 'p95', (v) => v.toFixed(0))}
  ${bar('workerd CPU per admitted request (ms)', 'cpuMsPerAdmitted', (v) => v.toFixed(2))}`;
}

const ln = await startLnbits();
const x402 = await startX402({ payers: AGENTS });
const rows = [];
try {
  for (const b of behaviours) {
    console.error(`running: ${b.name} (${SECONDS} s)`);
    rows.push({ ...(await run(b, ln, x402)), key: b.key });
  }
} finally {
  ln.stop();
  await x402.stop();
}
const f = (v, d = 0) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
const table = [
  `${AGENTS} agents, each on the official MCP SDK calling a tool at 100 requests/minute against a ${QUOTA}/minute quota, ${SECONDS} s per behaviour, on loopback (\`npm run study\`).`,
  '',
  '| server behaviour | agent policy | successful calls | useful throughput (calls/s) | runs needing a human | recovery p50 (ms) | recovery p95 (ms) | workerd CPU per admitted request (ms) | 5xx | origin saw = agents counted |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${POLICIES[r.key]} | ${r.ok} | ${f(r.throughput, 1)} | ${r.failed} of ${AGENTS} (${f((100 * r.failed) / AGENTS)}%) | ${f(r.p50)} | ${f(r.p95)} | ${f(r.cpuMsPerAdmitted, 2)} | ${r.fiveXX} | ${r.originCount === r.ok ? 'yes' : `no (${r.originCount} vs ${r.ok})`} |`),
  '',
  `During the proof-of-work run, D1 was made to fail for ${FAULT_MS / 1000} s (challenge and revocation tables gone): agents met \`503\` with \`Retry-After\` ${rows.find((r) => r.key === 'pow')?.faultRecoveries ?? 0} times and carried on.`,
  ...rows.filter((r) => r.errors.length).map((r) => `- ${r.name}, first errors: ${r.errors.join(' / ')}`),
  '',
].join('\n');
console.log(table);
if (process.env.STUDY_ONLY) process.exit(0);
writeFileSync(join(ROOT, 'bench', 'study.md'), table);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
const page = await browser.newPage({ viewport: { width: 700, height: 560 } });
await page.setContent(plotHtml(rows));
await page.screenshot({ path: join(ROOT, 'bench', 'study.png'), fullPage: true });
await browser.close();
process.exit(0);
