// A plain HTTP origin with the misbehaviours the gateway must handle: it hangs, redirects, and
// echoes back the headers it received. `hanging()` is how many of its hung requests still hold
// their connection open.
import http from 'node:http';

export async function startOddOrigin() {
  const sockets = new Set();
  const hung = new Set();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/hang') {
      // Never answers.
      hung.add(req.socket);
      req.socket.on('close', () => hung.delete(req.socket));
      return;
    }
    if (path === '/redirect') {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive, x-origin-hop', 'x-origin-hop': 'secret', 'x-origin-ok': 'yes' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hanging: () => hung.size,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
