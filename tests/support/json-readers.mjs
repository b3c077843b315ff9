// Two origins that read each POST body as an origin would and answer with what they read: one in
// JavaScript (TextDecoder, then JSON.parse, as fetch's `Request.json()` does), one in Python's
// own json module (json_reader_origin.py). Each answers `{reader, ok, calls: [{method, name}]}`
// or `{reader, ok: false, error}`; `GET /count` answers how many POSTs reached it.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './gateway.mjs';

const NAMED = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri', 'resources/subscribe': 'uri', 'resources/unsubscribe': 'uri' };

/** What JavaScript reads in `bytes`, in the shape the Python reader answers. */
export function jsReading(bytes) {
  let value;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    return { reader: 'javascript', ok: false, error: e.name };
  }
  const items = Array.isArray(value) ? value : [value];
  const calls = items.map((item) => {
    const method = typeof item?.method === 'string' ? item.method : null;
    const params = item?.params && typeof item.params === 'object' ? item.params : {};
    const name = method in NAMED && typeof params[NAMED[method]] === 'string' ? params[NAMED[method]] : null;
    return { method, name };
  });
  return { reader: 'javascript', ok: true, calls };
}

export async function startJsReader() {
  let posts = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const answer = req.method === 'POST' ? (posts++, jsReading(Buffer.concat(chunks))) : { requests: posts };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export async function startPyReader() {
  const local = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
  const python = existsSync(local) ? local : 'python3';
  const child = spawn(python, [join(ROOT, 'tests', 'support', 'json_reader_origin.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = await Promise.race([
    createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((l) => [Number(l.value)]),
    new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`python reader exited ${code}`)))),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => { child.once('exit', () => r()); child.kill(); }),
  };
}
