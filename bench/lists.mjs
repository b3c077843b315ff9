// `node bench/lists.mjs [<build dir> ...]`: public list results from the edge (MCP 2026-07-28
// caching). An origin whose tools/list is `cacheScope: "public"` with a `ttlMs` longer than the
// run counts what reaches it; 100 agents (each its own API key, so its own quota) list tools 5
// times each, 8 in flight, through each build in turn (default: build/; give an older build to
// see before and after). Prints, per build: origin calls, admitted answers, p50/p99 latency and
// workerd's CPU per request. A benchmark: it asserts nothing about speed.
import http from 'node:http';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request, summarize } from './load.mjs';
import { cpuSeconds, workerdPids } from './cpu.mjs';
import { BUILD, gatewayWorker, quietLogs } from './targets.mjs';
import { migrationStatements, testKey } from '../tests/support/gateway.mjs';

const builds = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (builds.length === 0) builds.push(BUILD);
const AGENTS = 100, EACH = 5, CONCURRENCY = 8, REVISION = '2026-07-28';

let calls = 0;
const TOOLS = Array.from({ length: 20 }, (_, i) => ({ name: `tool-${i}`, description: 'x'.repeat(200), inputSchema: { type: 'object' } }));
const origin = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (c) => { raw += c; });
  req.on('end', () => {
    calls++;
    const m = JSON.parse(raw);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: TOOLS, resultType: 'complete', cacheScope: 'public', ttlMs: 600_000 } }));
  });
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

const rows = [];
for (const build of builds) {
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: '127.0.0.1', port: 0, cf: false, handleStructuredLogs: quietLogs,
    workers: [gatewayWorker('lists', null, originUrl, { QUOTA_PER_MINUTE: '1000' }, build)],
  }));
  try {
    const base = (await mf.ready).origin;
    const db = await mf.getD1Database('DB', 'lists');
    for (const stmt of migrationStatements()) await db.prepare(stmt).run();
    const make = (n) => {
      const id = n + 1;
      const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': REVISION } } });
      return { url: `${base}/mcp`, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/list', 'x-api-key': testKey(`agent-${n % AGENTS}`) }, body };
    };
    calls = 0;
    const pids = workerdPids();
    const cpu0 = cpuSeconds(pids);
    const latencies = [];
    let next = 0, ok = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < AGENTS * EACH) {
        const r = await request(make(next++));
        if (r.status === 200 && JSON.parse(r.body).result?.tools?.length === TOOLS.length) ok++;
        latencies.push(r.ms);
      }
    }));
    const s = summarize(latencies, performance.now() - started);
    rows.push({ build, calls, ok, ...s, cpuUs: ((cpuSeconds(pids) - cpu0) * 1e6) / latencies.length });
  } finally {
    await mf.dispose();
  }
}
origin.close();
request.agent.destroy();
console.log(`${AGENTS} agents × ${EACH} tools/list (MCP ${REVISION}, a public result with ttlMs 600000, ${TOOLS.length} tools, ${JSON.stringify({ tools: TOOLS }).length} bytes), ${CONCURRENCY} in flight:\n`);
console.log('| build | origin calls | answered with the tools | p50 ms | p99 ms | CPU µs/req |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.build} | ${r.calls} | ${r.ok} of ${r.n} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUs.toFixed(0)} |`);
