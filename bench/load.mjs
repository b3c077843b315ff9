// A small closed-loop HTTP load generator on node:http keep-alive connections: sequential and
// fixed-concurrency runs with bounded request counts, latencies in milliseconds.
import http from 'node:http';

export function request({ url, host, method = 'POST', headers = {}, body }) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent: request.agent,
      headers: { ...(host ? { host } : {}), ...(body ? { 'content-length': Buffer.byteLength(body) } : {}), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
request.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

export function summarize(latencies, wallMs) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { n: sorted.length, rps: (sorted.length / wallMs) * 1000, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Runs `total` requests with `concurrency` in flight; every answer must have status `expect`. */
export async function run(make, { total, concurrency, expect = 200 }) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  async function lane() {
    while (next < total) {
      next++;
      const r = await request(make());
      if (r.status !== expect) throw new Error(`unexpected ${r.status}: ${r.body.slice(0, 200)}`);
      latencies.push(r.ms);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  return summarize(latencies, performance.now() - started);
}
