// The benchmark's origin: a node:http server whose answers cost little and the same every time,
// so what the bench measures is the worker in front of it, not an MCP server. Every POST is read
// to its end (any path; the MCP POST included) and answered with one fixed JSON-RPC result. The
// `x-bench-shape` request header asks for the other bodies the bench sends through the workers:
// `sse` (a text/event-stream reply written event by event, as MCP Streamable HTTP allows) and
// `big` (a 100 KB JSON result). `node bench/origin.mjs --port <n>`.
import http from 'node:http';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const result = (text) => JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }] } });
const SMALL = Buffer.from(result('bench'));
const BIG = Buffer.from(result('x'.repeat(100 * 1024 - result('').length)));
const SSE_EVENTS = 16;
const EVENT = Buffer.from(`event: message\ndata: ${result('y'.repeat(480))}\n\n`);

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const shape = req.headers['x-bench-shape'];
    if (shape === 'sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let sent = 0;
      // One write per event, each on its own turn of the loop, so the stream arrives in pieces.
      const next = () => (++sent < SSE_EVENTS ? (res.write(EVENT), setImmediate(next)) : res.end(EVENT));
      return next();
    }
    const body = shape === 'big' ? BIG : SMALL;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
