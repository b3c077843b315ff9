// Cold start: a fresh workerd (a new Miniflare instance holding one worker) from the moment it is
// spawned to its first response, split into "ready" (workerd up, the script compiled and
// loaded) and the first request (isolate instantiation, the wasm's start, the proxied call).
// Each figure the median of `times` starts.
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { request } from './load.mjs';
import { quietLogs } from './targets.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function coldStart(worker, req, times) {
  const starts = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const mf = new Miniflare(convertV4MiniflareOptions({ host: '127.0.0.1', port: 0, cf: false, handleStructuredLogs: quietLogs, workers: [worker] }));
    try {
      const base = (await mf.ready).origin;
      const ready = performance.now();
      const r = await request({ url: `${base}/mcp`, ...req });
      if (r.status !== 200) throw new Error(`cold start of ${worker.name}: ${r.status} ${r.body.slice(0, 200)}`);
      starts.push({ total: performance.now() - started, ready: ready - started });
    } finally {
      await mf.dispose();
    }
  }
  return { total: median(starts.map((s) => s.total)), ready: median(starts.map((s) => s.ready)), first: median(starts.map((s) => s.total - s.ready)) };
}
