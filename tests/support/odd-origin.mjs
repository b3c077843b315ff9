// A plain HTTP origin with the misbehaviours the gateway must handle: it hangs, redirects, and
// echoes back the headers it received. `hanging()` is how many of its hung requests still hold
// their connection open, `hung()` how many arrived; `/late` answers after `LATE_MS`, and `late()` is
// how many such requests arrived; `/panic` answers with the field on which the test build panics
// (src/lane.rs), and `panics()` is how many such requests arrived.
import http from 'node:http';

export const LATE_MS = 1_000;

export async function startOddOrigin() {
  const sockets = new Set();
  const hung = new Set();
  let arrived = 0;
  let late = 0;
  let panics = 0;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/hang') {
      // Never answers.
      arrived++;
      hung.add(req.socket);
      req.socket.on('close', () => hung.delete(req.socket));
      return;
    }
    if (path === '/late') {
      late++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}'), LATE_MS);
      return;
    }
    if (path === '/panic') {
      panics++;
      res.writeHead(200, { 'content-type': 'application/json', 'x-gatehouse-test-panic': '1' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
      return;
    }
    if (path === '/redirect') {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      // Beside its own fields, ones only the gateway may speak, in mixed case (node:http sends
      // names as written).
      res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive, X-Origin-Hop', 'x-origin-hop': 'secret', 'x-origin-ok': 'yes', RateLimit: 'forged', 'Payment-Receipt': 'forged', 'Gatehouse-Challenge': '1', 'X-RateLimit-Remaining': '999' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hanging: () => hung.size,
    hung: () => arrived,
    late: () => late,
    panics: () => panics,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
