// An origin that records exactly what reached it (headers, raw body, JavaScript's reading of it)
// and answers every JSON-RPC request with an empty result: for tests that check what the gateway
// let through, not what an MCP server would do with it.
import http from 'node:http';

export async function startRecordingOrigin() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let parsed;
      try { parsed = raw ? JSON.parse(raw) : undefined; } catch { parsed = undefined; }
      seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, raw, parsed });
      const answer = (m) => ({ jsonrpc: '2.0', id: m?.id ?? null, result: {} });
      const body = Array.isArray(parsed) ? parsed.filter((m) => m?.id !== undefined).map(answer) : answer(parsed);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    seen,
    /** Calls (method, tool name) the origin received, in order. */
    calls: () => seen.flatMap((s) => [s.parsed].flat()).filter((m) => m?.method).map((m) => [m.method, m.params?.name ?? m.params?.uri ?? null]),
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
