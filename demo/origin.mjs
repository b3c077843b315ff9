// The demo MCP origin: an MCP server on the official TypeScript SDK (Streamable HTTP, stateful
// sessions) with a few demo tools and the conformance suite's fixtures. `npm start` runs it behind
// the gateway; the end-to-end tests start it in-process to watch what reaches it.
//
//   node demo/origin.mjs [--port 8790]
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { CONFORMANCE_CAPABILITIES, registerConformanceFixtures } from './conformance-fixtures.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function registerDemoTools(server, events) {
  server.registerTool('echo', {
    description: 'Echoes the message back.',
    inputSchema: { message: z.string().max(10_000) },
  }, async ({ message }) => {
    events.emit({ kind: 'echo' });
    return { content: [{ type: 'text', text: message }] };
  });

  server.registerTool('progress', {
    description: 'Counts to `steps`, sending a progress notification over SSE every `interval_ms`.',
    inputSchema: { steps: z.number().int().min(1).max(100).default(5), interval_ms: z.number().int().min(0).max(10_000).default(200) },
  }, async ({ steps, interval_ms }, { sendNotification, _meta }) => {
    for (let i = 1; i <= steps; i++) {
      if (_meta?.progressToken !== undefined) {
        await sendNotification({ method: 'notifications/progress', params: { progressToken: _meta.progressToken, progress: i, total: steps, message: `step ${i}/${steps}` } });
        events.emit({ kind: 'progress_sent', step: i, steps, at: performance.timeOrigin + performance.now() });
      }
      if (i < steps) await sleep(interval_ms);
    }
    return { content: [{ type: 'text', text: `counted to ${steps}` }] };
  });
}

function newServer(events) {
  const server = new McpServer(
    { name: 'gatehouse-demo-origin', version: '1.0.0' },
    { capabilities: { tools: {}, ...CONFORMANCE_CAPABILITIES } },
  );
  registerDemoTools(server, events);
  registerConformanceFixtures(server);
  return server;
}

const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
const hostnameOf = (value, prefix = '') => {
  try { return new URL(`${prefix}${value}`).hostname; } catch { return null; }
};

// DNS-rebinding protection, as the MCP transport spec asks of local servers: refuse a foreign
// Origin, and a foreign Host.
function foreignCaller(req) {
  const origin = req.headers.origin;
  return !LOCAL_NAMES.has(hostnameOf(req.headers.host, 'http://')) || (origin && !LOCAL_NAMES.has(hostnameOf(origin)));
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

function rpcError(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/**
 * Starts the origin. `onRequest(req)` sees every request's method, URL and headers, and
 * `onEvent(event)` sees what the demo tools do, so tests can check what crossed the gateway.
 */
export async function startOrigin({ port = 0, host = '127.0.0.1', onRequest = () => {}, onEvent = () => {} } = {}) {
  const sessions = new Map();
  const events = { emit: onEvent };
  const handle = async (req, res) => {
    onRequest({ method: req.method, url: req.url, headers: { ...req.headers } });
    const path = new URL(req.url, 'http://origin').pathname;
    if (path === '/hang') return; // never answers: lets tests see the gateway's timeout
    if (path !== '/mcp') return rpcError(res, 404, -32000, 'Not found');
    if (foreignCaller(req)) return rpcError(res, 403, -32000, 'Forbidden host or origin');
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      let body;
      try { body = await readJson(req); } catch { return rpcError(res, 400, -32700, 'Parse error'); }
      let transport = sid && sessions.get(sid);
      if (!transport) {
        if (sid) return rpcError(res, 404, -32001, 'Session not found');
        if (!isInitializeRequest(body)) return rpcError(res, 400, -32000, 'Missing session id');
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => sessions.set(id, transport),
        });
        transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
        await newServer(events).connect(transport);
      }
      return transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const transport = sid && sessions.get(sid);
      if (!transport) return rpcError(res, sid ? 404 : 400, -32000, sid ? 'Session not found' : 'Missing session id');
      return transport.handleRequest(req, res);
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
  };
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error('origin error', e);
      if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const url = `http://${host}:${server.address().port}`;
  return {
    url,
    sessions,
    close: () => new Promise((resolve) => {
      for (const t of sessions.values()) t.close().catch(() => {});
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8790;
  const origin = await startOrigin({ port });
  console.log(`demo MCP origin at ${origin.url}/mcp`);
  const stop = () => {
    setTimeout(() => process.exit(0), 1_000).unref();
    origin.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
