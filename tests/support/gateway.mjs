// Runs the built Worker in workerd through Miniflare's API, with real Durable Objects and a real
// local D1 (migrations applied from migrations/), the way `wrangler dev` would but in ~0.3 s.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { wire } from '../../clients/js/wire.mjs';
import { signApiKey } from './keys.mjs';

export const ROOT = join(import.meta.dirname, '..', '..');
const BUILD = join(ROOT, 'build');
/** The build with the `store-contract` feature (scripts/test.sh makes it), for that one suite. */
export const CONTRACT_BUILD = join(ROOT, 'build-contract');
const WRANGLER = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
/** wrangler.toml's compatibility date and flags, as the gateway is deployed with them. */
export const COMPATIBILITY = {
  compatibilityDate: WRANGLER.match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1],
  compatibilityFlags: JSON.parse(WRANGLER.match(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m)?.[1] ?? '[]'),
};

/** The Durable Object bindings of wrangler.toml: one class per concern. */
export const DURABLE_OBJECTS = {
  COUNTERS: { className: 'GateCounter', useSQLite: true },
  CREDENTIALS: { className: 'CredentialCounter', useSQLite: true },
  METRICS: { className: 'MetricsObject', useSQLite: true },
};

export const TEST_SIGNING_KEYS = 'k1:test-signing-key-0123456789abcdef0123456789';
export const TEST_ADMIN_SECRET = 'test-admin-secret-0123456789';

/** Each statement of each migration, in order, comments stripped. */
export function migrationStatements() {
  const dir = join(ROOT, 'migrations');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8')
      .split('\n').filter((l) => !l.trim().startsWith('--')).join('\n')
      .split(';').map((s) => s.trim()).filter(Boolean));
}

/** The built Worker's modules, entry first (src/entry.mjs, which scripts/build.sh puts beside the
 * bundle worker-build writes, with the edge.mjs it imports; a build from before the quick lane,
 * for the bench's baselines, has none). */
export const gatewayModules = (build = BUILD) => [
  { type: 'ESModule', path: join(build, 'entry.mjs') },
  ...(existsSync(join(build, 'edge.mjs')) ? [{ type: 'ESModule', path: join(build, 'edge.mjs') }] : []),
  { type: 'ESModule', path: join(build, 'index.js') },
  { type: 'CompiledWasm', path: join(build, 'index_bg.wasm') },
];

/**
 * Starts the gateway. `vars` are merged over test defaults (origin at `originUrl`, LOCAL_DEV on,
 * test signing keys and admin secret, and the HTTP 402 for every client: most suites test that
 * exchange; the default, in-band answers for clients that do not declare `Gatehouse-Accept: 402`,
 * is tested where a suite sets `IN_BAND_CHALLENGES: undefined` or `'true'`). `workerOverrides` replaces parts of the worker options,
 * for fault injection (for example a Durable Object binding to a failing class). `build` is the
 * directory of the built Worker (the release build by default).
 */
export async function startGateway({ originUrl, vars = {}, workerOverrides = {}, extraWorkers = [], migrate = true, port = 0, build = BUILD } = {}) {
  const bindings = {
    ORIGIN_URL: originUrl,
    LOCAL_DEV: 'true',
    TOKEN_SIGNING_KEYS: TEST_SIGNING_KEYS,
    ADMIN_SECRET: TEST_ADMIN_SECRET,
    IN_BAND_CHALLENGES: 'false',
    ...vars,
  };
  for (const [k, v] of Object.entries(bindings)) if (v === undefined) delete bindings[k];
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: '127.0.0.1',
    port,
    cf: false,
    workers: [
      {
        name: 'gatehouse',
        modulesRoot: build,
        modules: gatewayModules(build),
        ...COMPATIBILITY,
        durableObjects: DURABLE_OBJECTS,
        d1Databases: { DB: 'gatehouse-test' },
        bindings,
        ...workerOverrides,
      },
      ...extraWorkers,
    ],
  }));
  const url = (await mf.ready).origin;
  const db = await mf.getD1Database('DB').catch(() => null);
  if (migrate && db) for (const stmt of migrationStatements()) await db.prepare(stmt).run();
  return { mf, url, mcpUrl: `${url}/mcp`, db, dispose: () => mf.dispose() };
}

/** A free TCP port on loopback, for a gateway whose URL must be known before it starts. */
const handedOut = new Set();

/** A port free when asked, for a process the caller starts to listen on. Drawn from below the
 * kernel's ephemeral range (32768 and up on Linux, 49152 on others), which `listen(0)` and every
 * outgoing connection take theirs from: the suite's lanes make thousands of connections side by
 * side, and one of them could otherwise take the port before the caller's process listens on it
 * (scripts/start.mjs starts seven services over some 30 s). At random, so that lanes rarely draw
 * the same one. */
export async function freePort() {
  const { createServer } = await import('node:net');
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const free = await new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Mints a gateway-issued API key through the admin API (the only way to get one), memoized per
 * gateway and id, so tests can name clients as before: `await apiKey(gateway, 'agent-1')`.
 */
const minted = new Map();
export async function apiKey(gateway, id, tier) {
  const memo = `${gateway.url} ${id} ${tier ?? ''}`;
  if (!minted.has(memo)) {
    const res = await fetch(`${gateway.url}${wire.paths.admin_keys}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify(tier ? { id, tier } : { id }),
    });
    if (res.status !== 201) throw new Error(`minting key ${id}: ${res.status} ${await res.text()}`);
    minted.set(memo, (await res.json()).key);
  }
  return minted.get(memo);
}

/** `{ 'x-api-key': <minted key> }` for each id, in one object keyed by id. */
export async function apiKeys(gateway, ids) {
  const out = {};
  for (const id of ids) out[id] = await apiKey(gateway, id);
  return out;
}

/**
 * An API key for `id`, signed here with the test signing key exactly as the gateway's admin API
 * would sign it (docs/PROTOCOL.md §6): for tests that only need a named client. The hostile suite
 * mints through the admin API instead and checks that a key signed with anything else fails.
 */
export function testKey(id, tier = 'default') {
  return signApiKey(TEST_SIGNING_KEYS, id, tier);
}
