// The workers the bench runs side by side in one workerd: the gateway (twice: quota path, and a
// tight quota whose token buys the fast path), a bare JS pass-through (the floor), the same floor
// on the Rust `worker` crate, and the hand-written TypeScript peers (ts-peer.ts and
// ts-peer-hardened.ts, types stripped by node:module so workerd runs them as plain JS). Hosts
// pick the worker through Miniflare's routes. Every worker runs with the gateway's compatibility
// date and flags (wrangler.toml), so that they differ only in what they do.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { ROOT, COMPATIBILITY, DURABLE_OBJECTS, TEST_SIGNING_KEYS, gatewayModules } from '../tests/support/gateway.mjs';
import { request } from './load.mjs';

export const BUILD = join(ROOT, 'build');
const RUST_FLOOR = join(ROOT, 'bench', 'rust-passthrough', 'build');

export function buildRustFloor() {
  execFileSync('worker-build', ['--release'], { cwd: join(ROOT, 'bench', 'rust-passthrough'), stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A build and its settings as the bench's command lines give them: `<dir>[:<setting>,...]`, each
 * setting `NAME=value` (a Worker variable) or `+flag` / `-flag` (a compatibility flag added to
 * wrangler.toml's, or one of them taken away). Anything else, or a `-flag` wrangler.toml does not
 * have, is refused: a typo would otherwise measure the build unchanged under another label. */
export function buildArg(arg) {
  const [dir, ...rest] = arg.split(':');
  const parts = rest.join(':').split(',').filter(Boolean);
  const flags = [...COMPATIBILITY.compatibilityFlags];
  const vars = {};
  for (const part of parts) {
    const flag = part.slice(1);
    if (part[0] === '+' && flag) flags.push(flag);
    else if (part[0] === '-' && flags.includes(flag)) flags.splice(flags.indexOf(flag), 1);
    else if (/^[A-Z][A-Z0-9_]*=/.test(part)) vars[part.slice(0, part.indexOf('='))] = part.slice(part.indexOf('=') + 1);
    else throw new Error(`${arg}: "${part}" is neither NAME=value, +flag nor a -flag of wrangler.toml's (${COMPATIBILITY.compatibilityFlags.join(', ')})`);
  }
  return { dir, vars, flags };
}

/** The gateway from `build` (default: this checkout's build/; another commit's build for a
 * before-and-after run), with wrangler.toml's compatibility flags unless `flags` are given. */
export const gatewayWorker = (name, host, originUrl, vars, build = BUILD, flags = COMPATIBILITY.compatibilityFlags) => ({
  name,
  routes: host ? [`${host}/*`] : undefined,
  modulesRoot: build,
  modules: gatewayModules(build),
  ...COMPATIBILITY,
  compatibilityFlags: flags,
  durableObjects: DURABLE_OBJECTS,
  d1Databases: { DB: `bench-${name}` },
  bindings: { ORIGIN_URL: originUrl, LOCAL_DEV: 'true', TOKEN_SIGNING_KEYS: TEST_SIGNING_KEYS, RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'false', ...vars },
});

export const JS_FLOOR_SCRIPT =
  'export default { fetch(req, env) { const u = new URL(req.url); return fetch(env.ORIGIN_URL + u.pathname + u.search, req); } };';

export const jsFloorWorker = (name, host, originUrl) => ({
  name,
  routes: host ? [`${host}/*`] : undefined,
  modules: true,
  ...COMPATIBILITY,
  bindings: { ORIGIN_URL: originUrl },
  script: JS_FLOOR_SCRIPT,
});

export const rustFloorWorker = (name, host, originUrl) => ({
  name,
  routes: [`${host}/*`],
  modulesRoot: RUST_FLOOR,
  modules: [{ type: 'ESModule', path: join(RUST_FLOOR, 'index.js') }, { type: 'CompiledWasm', path: join(RUST_FLOOR, 'index_bg.wasm') }],
  ...COMPATIBILITY,
  bindings: { ORIGIN_URL: originUrl },
});

/** A TypeScript peer (`file` under bench/: ts-peer.ts by default). It has no route: the bench
 * reaches it by name (Miniflare's MF-Route-Override header), so the request keeps the tight
 * gateway's host and the token's audience matches, as it would for a peer deployed in the
 * gateway's place. */
export const tsPeerWorker = (name, originUrl, file = 'ts-peer.ts') => ({
  name,
  modules: true,
  ...COMPATIBILITY,
  bindings: { ORIGIN_URL: originUrl, TOKEN_SIGNING_KEYS: TEST_SIGNING_KEYS },
  script: stripTypeScriptTypes(readFileSync(join(ROOT, 'bench', file), 'utf8')),
});

/** The hardened peer (ts-peer-hardened.ts): the token path's work with the body read, parsed
 * and charged against the grant, reached by name like the other peer. */
export const tsPeerHardenedWorker = (name, originUrl) => tsPeerWorker(name, originUrl, 'ts-peer-hardened.ts');

/** workerd's log lines, without the gateway's one audit line per request (and its failure to
 * write one where the bench keeps no audit table): thousands of them would bury the tables. */
export function quietLogs({ message }) {
  if (!message.includes('"event":"audit')) process.stderr.write(`${message}\n`);
}

/** The tight gateway: one free request a minute, then tokens that last the whole bench. */
export const TIGHT_VARS = { QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '1000000', TOKEN_TTL_SECONDS: '3600', ...(process.env.BENCH_AUDIT_OFF ? { AUDIT_ENABLED: 'false' } : {}) };

export const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
export const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } });
export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'bench/1', 'mcp-protocol-version': '2025-06-18' };

/** Starts the fixed origin (origin.mjs) and waits until it answers. */
export async function startOrigin(port) {
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'origin.mjs'), '--port', String(port)], { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { await request({ url: `${url}/`, method: 'GET' }); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  return { url, pid: child.pid, stop: () => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} } };
}
