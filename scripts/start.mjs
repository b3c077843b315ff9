// `npm start`: the gateway on wrangler dev with its local defaults, in front of two demo MCP
// origins (the TypeScript SDK's at /mcp, the Python SDK 2.x's of revision 2026-07-28 at
// /mcp-2026), with a local D1 and local Durable Objects, every payment rail (proof of work, L402 on
// a local LNbits, x402 and MPP on a local chain) and demo agents that run past their quota.
//
// The screen gets one line per setup step, then the banner, then one live line per demo agent.
// Everything else (wrangler and workerd, the migrations, LNbits, the origins, library warnings)
// goes to .run/start.log, so what matters is what is left on screen. Ctrl-C stops everything.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { format } from 'node:util';
import { startLnbits } from '../demo/lnbits.mjs';
import { DEMO_CLIENTS, startAuthServer } from '../demo/auth-server.mjs';
import { agentLine, startDemoTraffic } from '../demo/traffic.mjs';
import { TOKEN_NAME, gatewayVars, startChain } from '../demo/x402/chain.mjs';
import { startFacilitator } from '../demo/x402/facilitator.mjs';

const ROOT = join(import.meta.dirname, '..');
const GATEWAY_PORT = Number(process.env.GATEHOUSE_PORT ?? 8787);
const ORIGIN_PORT = Number(process.env.ORIGIN_PORT ?? 8790);
const ORIGIN_2026_PORT = Number(process.env.ORIGIN_2026_PORT ?? 8792);
const LNBITS_PORT = Number(process.env.LNBITS_PORT ?? 5111);
const AUTH_PORT = Number(process.env.AUTH_PORT ?? 8791);
const CHAIN_PORT = Number(process.env.CHAIN_PORT ?? 8545);
const FACILITATOR_PORT = Number(process.env.FACILITATOR_PORT ?? 4021);
const DEV_VARS = join(ROOT, '.dev.vars');
// What a start writes (logs, wallet keys, LNbits' data, the Worker's copy). GATEHOUSE_RUN_DIR moves
// it, and the local D1 and Durable Object state with it, so that a second instance (the test of
// this script) leaves a running `npm start` alone; by default that state is wrangler's own, in
// .wrangler/state, where `wrangler d1 execute --local` by hand finds it.
const RUN = process.env.GATEHOUSE_RUN_DIR ?? join(ROOT, '.run');
const PERSIST = process.env.GATEHOUSE_RUN_DIR ? join(RUN, 'state') : join(ROOT, '.wrangler', 'state');
const LOG = join(RUN, 'start.log');
const PY2 = join(ROOT, '.tools', 'py2', 'bin', 'python');
// The chain's payer accounts: one per paying demo agent (kit x402, mppx, mppx in MCP, Python x402
// in MCP), so no two share a signer, and one left for whoever tries the rails by hand.
const AGENT_PAYERS = 4;

mkdirSync(RUN, { recursive: true });
const logFd = openSync(LOG, 'w');
const log = (text) => writeSync(logFd, text);
const screen = (line = '') => process.stdout.write(`${line}\n`);
const rel = (path) => (relative(ROOT, path).startsWith('..') ? path : relative(ROOT, path));
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
// Libraries running in this process (oidc-provider's development-adapter warning, the SDKs,
// mppx) write to the console; their words belong in the log with the children's, not on screen.
for (const m of ['log', 'info', 'warn', 'error', 'debug']) console[m] = (...args) => log(`${format(...args)}\n`);
log(`npm start, ${new Date().toISOString()}\n`);

// Local secrets and settings, generated once per checkout and never committed (.gitignore).
// A key missing from an older .dev.vars is added; existing values are kept.
function ensureDevVars() {
  const wanted = {
    LOCAL_DEV: 'true',
    // Read only without POLICY, which this script always passes: for wrangler dev run by hand.
    ORIGIN_URL: `http://127.0.0.1:${ORIGIN_PORT}`,
    TOKEN_SIGNING_KEYS: `local:${randomBytes(32).toString('hex')}`,
    ADMIN_SECRET: randomBytes(24).toString('hex'),
    L402_ROOT_KEY: randomBytes(32).toString('hex'),
  };
  const current = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, 'utf8') : '# Written by `npm start`: local development values. Delete to regenerate.\n';
  const missing = Object.entries(wanted).filter(([k]) => !new RegExp(`^${k}=`, 'm').test(current));
  if (missing.length) writeFileSync(DEV_VARS, current + missing.map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  return missing.length;
}

const children = [];
let traffic = null;
let stopping = false;

/** The last lines of the log, for a failure's explanation on screen. */
function logTail(lines = 12) {
  return readFileSync(LOG, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => dim(`      ${l.slice(0, 200)}`)).join('\n');
}

function fail(what) {
  screen(`  ✗ ${what}; stopping. The end of ${rel(LOG)}:`);
  screen(logTail());
  stop(1);
}

function start(name, command, args, { env = process.env, stdout = logFd } = {}) {
  // Own process group, so that stopping it stops whatever it spawned (workerd) too.
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', stdout, logFd], detached: true, env });
  child.on('exit', (code, signal) => { if (!stopping) fail(`${name} exited (${signal ?? code})`); });
  children.push(child);
  return child;
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  traffic?.stop();
  for (const c of children) {
    try { process.kill(-c.pid, 'SIGTERM'); } catch {}
  }
  setTimeout(() => {
    for (const c of children) {
      try { process.kill(-c.pid, 'SIGKILL'); } catch {}
    }
    process.exit(code);
  }, 1500).unref();
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(0));
// Stopped some other way than by a signal to this process (npm killed, terminal closed): the
// parent goes away, and so must everything started here.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stop(0); }, 1_000).unref();

/** Runs one setup step: one line on screen when it is done (or failed), its details in the log. */
async function step(title, run, describe = () => '') {
  const started = performance.now();
  log(`\n== ${title}\n`);
  try {
    const result = await run();
    const detail = describe(result);
    screen(`  ✓ ${title}${detail ? `: ${detail}` : ''}  ${dim(`${((performance.now() - started) / 1000).toFixed(1)} s`)}`);
    return result;
  } catch (e) {
    log(`${e?.stack ?? e}\n`);
    fail(`${title}: ${String(e?.message ?? e).split('\n')[0]}`);
    return new Promise(() => {}); // stop() exits; nothing after this step runs
  }
}

async function waitFor(url, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return false;
}

/** Starts demo/origin_2026.py; resolves with its URL once it says it listens. */
function startOrigin2026() {
  if (!existsSync(PY2)) return Promise.reject(new Error(`${rel(PY2)} is missing (scripts/setup.sh installs it)`));
  const child = start('the 2026-07-28 origin', PY2, [join(ROOT, 'demo', 'origin_2026.py'), String(ORIGIN_2026_PORT)], { stdout: 'pipe' });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('it did not say it listens within 30 s')), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      log(`${line}\n`);
      const m = line.match(/listening on (http:\/\/\S+)$/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
}

screen('');
screen(`  Gatehouse: starting (details in ${rel(LOG)})`);
await step('local secrets', async () => ensureDevVars(), (added) => (added ? `${rel(DEV_VARS)} written (${added} new values)` : `${rel(DEV_VARS)}`));
await step('local D1', async () => {
  const migrate = spawnSync('wrangler', ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', PERSIST], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  log(`${migrate.stdout ?? ''}${migrate.stderr ?? ''}`);
  if (migrate.status !== 0) throw new Error(`wrangler d1 migrations apply exited ${migrate.status}`);
  return /No migrations to apply/.test(migrate.stdout) ? 'schema up to date' : 'migrations applied';
}, (s) => s);

// A real local Lightning backend (LNbits, FakeWallet), fresh each start, so the 402 offers an L402
// invoice, and a funded payer wallet to pay it with.
const ln = await step('Lightning: LNbits (FakeWallet)', async () => {
  rmSync(join(RUN, 'lnbits'), { recursive: true, force: true });
  mkdirSync(join(RUN, 'lnbits'), { recursive: true });
  const started = await startLnbits({ port: LNBITS_PORT, dataDir: join(RUN, 'lnbits') });
  children.push({ pid: started.pid });
  return started;
}, (l) => `${l.url}, a funded payer wallet`);
writeFileSync(join(RUN, 'lightning.json'), JSON.stringify({
  lnbits_url: ln.url,
  payer: { wallet_id: ln.payer.id, admin_key: ln.payer.adminkey, invoice_key: ln.payer.inkey },
  gateway_wallet: { wallet_id: ln.gateway.id, invoice_key: ln.gateway.inkey },
  pay_an_invoice: `curl -s -X POST ${ln.url}/api/v1/payments -H 'X-Api-Key: ${ln.payer.adminkey}' -H 'Content-Type: application/json' -d '{"out":true,"bolt11":"<invoice>"}'`,
}, null, 2), { mode: 0o600 });

// A real local EVM chain (Hardhat's node) with an EIP-3009 token, and the official x402
// facilitator over HTTP, so the 402 offers x402 and MPP (the `evm` charge, on the same token and
// facilitator) and funded accounts can pay them.
const chain = await step('EVM chain: Hardhat', async () => {
  const started = await startChain({ port: CHAIN_PORT, payers: AGENT_PAYERS + 1 });
  children.push({ pid: started.pid });
  return started;
}, (c) => `${c.rpcUrl} (${c.network}), token ${TOKEN_NAME} deployed, ${c.payers.length} payer accounts funded`);
// Compiling the token loads solc, whose module makes every unhandled rejection fatal. A demo
// agent closing its client aborts a request the client library left in flight; that is noise for
// the log, not a reason to stop the demo.
process.removeAllListeners('unhandledRejection');
process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${reason?.stack ?? reason}\n`));
const facilitator = await step('x402 facilitator (official, also settles MPP)', () => startFacilitator(chain, { port: FACILITATOR_PORT }), (f) => f.url);
const you = chain.payers[AGENT_PAYERS];
writeFileSync(join(RUN, 'x402.json'), JSON.stringify({
  rpc_url: chain.rpcUrl,
  network: chain.network,
  token: chain.token,
  token_name: TOKEN_NAME,
  pay_to: chain.payTo,
  facilitator_url: facilitator.url,
  // One of Hardhat's well-known development keys (local use only), used by no demo agent.
  payer: { address: you.address, private_key: `0x${Buffer.from(you.getHdKey().privateKey).toString('hex')}` },
  clients: '@x402/fetch (send Gatehouse-Accept: 402), mppx (it sends Accept-Payment), or inside MCP: x402.mcp.x402MCPSession, mppx McpClient.wrap',
}, null, 2), { mode: 0o600 });

// A real authorization server (oidc-provider), with the gateway in `optional` mode: anonymous
// calls still work, a bearer token is checked, and `progress` needs the mcp:admin scope.
const authServer = await step('OAuth authorization server (oidc-provider)', () => startAuthServer({ port: AUTH_PORT }), (a) => a.issuer);
const base = `http://127.0.0.1:${GATEWAY_PORT}`;
const resource = `${base}/mcp`;
writeFileSync(join(RUN, 'oauth.json'), JSON.stringify({
  issuer: authServer.issuer,
  resource_metadata: `${base}/.well-known/oauth-protected-resource/mcp`,
  clients: DEMO_CLIENTS.map(({ client_id, client_secret, tier }) => ({ client_id, client_secret, tier })),
  get_a_token: `curl -s -u ${DEMO_CLIENTS[0].client_id}:${DEMO_CLIENTS[0].client_secret} ${authServer.issuer}/token -d grant_type=client_credentials -d scope='mcp:tools mcp:admin' -d resource=${resource}`,
}, null, 2), { mode: 0o600 });

await step('demo origin (TypeScript SDK)', async () => {
  const child = start('the demo origin', process.execPath, [join(ROOT, 'demo', 'origin.mjs'), '--port', String(ORIGIN_PORT)]);
  if (!(await waitFor(`http://127.0.0.1:${ORIGIN_PORT}/`, 30_000))) throw new Error('it did not answer within 30 s');
  return child;
}, () => `http://127.0.0.1:${ORIGIN_PORT}/mcp`);
const origin2026 = await step('demo origin of MCP 2026-07-28 (Python SDK 2.3.0)', startOrigin2026, (u) => u);

// Two routes (POLICY, docs/PROTOCOL.md): /mcp-2026 to the Python origin's /mcp, everything else
// to the TypeScript origin as it is. Both inherit the flat variables below: the quota, every
// offer, and in-band answers (the default) for clients that do not declare they handle a 402.
const policy = {
  origins: [
    { name: 'demo', prefix: '/', url: `http://127.0.0.1:${ORIGIN_PORT}` },
    { name: 'demo-2026', prefix: '/mcp-2026', url: origin2026 },
  ],
};
const BUILD = join(ROOT, 'build');
const SNAPSHOT = join(RUN, 'worker');
const BUILD_FILES = ['entry.mjs', 'edge.mjs', 'index.js', 'index_bg.wasm'];

/**
 * A copy of the built Worker (build/) for wrangler to serve. The build writes build/ in place, file
 * by file: a wrangler watching build/ reloads a half-written wasm and exits, which stopped the
 * whole demo whenever someone rebuilt while it ran. A copy taken once build/ is settled (no file
 * newer than 2 s, nothing changed while copying, the wasm whole) is immune; a rebuild takes
 * effect at the next start.
 */
async function snapshotBuild() {
  const stamp = () => BUILD_FILES.map((f) => statSync(join(BUILD, f)).mtimeMs);
  for (let attempt = 0; attempt < 60; attempt++) {
    const before = stamp();
    if (Date.now() - Math.max(...before) >= 2_000) {
      rmSync(SNAPSHOT, { recursive: true, force: true });
      for (const f of BUILD_FILES) cpSync(join(BUILD, f), join(SNAPSHOT, f));
      const same = stamp().every((t, i) => t === before[i]);
      // (Node's WebAssembly.validate knows fewer wasm features than workerd: not a check here.)
      const wasm = readFileSync(join(SNAPSHOT, 'index_bg.wasm'));
      if (same && wasm.subarray(0, 4).toString('latin1') === '\0asm' && wasm.length === statSync(join(BUILD, 'index_bg.wasm')).size) return new Date(Math.max(...before));
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error('build/ did not settle within a minute (a build running?)');
}

/**
 * wrangler.toml for wrangler dev, in .run/: serving the snapshot, without the [build] command.
 * `npm start` has built the Worker just before (scripts/run.sh), so scripts/build.sh inside
 * wrangler would be a second cargo build (and its chatter), rerun whenever a file under src/
 * changes. The paths become absolute, since wrangler reads them relative to the config's folder;
 * .dev.vars and the local state are named explicitly for the same reason.
 */
function devConfig() {
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^\[build\]\n(?:(?!\[).*\n)*/m, '')
    .replace(/^main\s*=\s*"[^"]+"/m, `main = ${JSON.stringify(join(SNAPSHOT, 'entry.mjs'))}`)
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/m, (_, path) => `migrations_dir = ${JSON.stringify(join(ROOT, path))}`);
  const path = join(RUN, 'wrangler.toml');
  writeFileSync(path, `# Written by scripts/start.mjs from wrangler.toml: see devConfig() there.\n${toml}`);
  return path;
}

const adminSecret = readFileSync(DEV_VARS, 'utf8').match(/^ADMIN_SECRET=(.*)$/m)?.[1];
await step('the built Worker', async () => {
  if (!existsSync(join(BUILD, 'index_bg.wasm'))) throw new Error('build/ is empty: run `npm start` (it builds first) or `npm run build`');
  return snapshotBuild();
}, (at) => `build/ of ${at.toTimeString().slice(0, 8)}, copied to ${rel(SNAPSHOT)} to be served`);
await step('gateway (wrangler dev, workerd)', async () => {
  start('wrangler dev', 'wrangler', [
    'dev', '--config', devConfig(), '--env-file', DEV_VARS, '--persist-to', PERSIST,
    '--ip', '127.0.0.1', '--port', String(GATEWAY_PORT), '--show-interactive-dev-session=false',
    '--var', `POLICY:${JSON.stringify(policy)}`,
    // Every rail: x402 and MPP (the `Payment` scheme's evm charge) on the same token and
    // facilitator, L402 on LNbits, and the proof of work, which needs nothing.
    '--var', 'CHALLENGE_OFFERS:x402,mpp,l402,pow',
    ...Object.entries(gatewayVars(chain, facilitator.url)).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    '--var', `L402_BACKEND_URL:${ln.url}`,
    '--var', `L402_BACKEND_KEY:${ln.gateway.inkey}`,
    '--var', 'RATE_KEY_HEADER:x-api-key',
    '--var', 'OAUTH_MODE:optional',
    '--var', `OAUTH_ISSUER:${authServer.issuer}`,
    '--var', `OAUTH_RESOURCE:${resource}`,
    '--var', 'OAUTH_REQUIRED_SCOPES:mcp:tools',
    '--var', 'OAUTH_TOOL_SCOPES:progress=mcp:admin',
  ], {
    // Miniflare fetches a sample `Request.cf` object from workers.cloudflare.com at start and,
    // offline, prints a warning with a stack trace before falling back to its placeholder. The
    // gateway only asks whether `request.cf` is there (the placeholder is), never what is in it,
    // so the placeholder it is, without the fetch or the warning.
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  if (!(await waitFor(base, 120_000))) throw new Error('it did not come up within 120 s');
}, () => base);

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
// What the commands to try send, in files, so that each command fits on a line as it is shown:
// a tools/call of revision 2026-07-28 (stateless, so one request is a whole exchange).
const TRY_HEADERS = join(RUN, 'try.headers');
const TRY_BODY = join(RUN, 'try.json');
writeFileSync(TRY_HEADERS, ['content-type: application/json', 'accept: application/json, text/event-stream', 'mcp-protocol-version: 2026-07-28', 'mcp-method: tools/call', 'mcp-name: echo', ''].join('\n'));
writeFileSync(TRY_BODY, `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } })}\n`);
const tryCall = (flags = '') => `curl -s${flags} ${base}/mcp-2026 -H @${TRY_HEADERS} -d @${TRY_BODY}`;
screen(`
  ${bold('Gatehouse is running.')}  Ctrl-C stops everything; the details are in ${rel(LOG)}.

  MCP endpoints    ${base}/mcp        the TypeScript SDK origin, MCP 2025-11-25 and earlier (direct: http://127.0.0.1:${ORIGIN_PORT}/mcp)
                   ${base}/mcp-2026   the Python SDK 2.3.0 origin, MCP 2026-07-28 (direct: ${origin2026})
  Dashboard        ${base}/admin      user admin, password ${adminSecret}
                   (the password is also the admin API's Bearer: POST /admin/api/keys {"id":"my-agent"} mints an API key)
  Past the quota   (60 requests a minute per client) the gateway asks for a proof of work, an L402 invoice, x402 or MPP:
                   as an HTTP 402 to clients that declare Gatehouse-Accept: 402 (the kits) or send Accept-Payment (mppx),
                   in-band to every other MCP client (a refused tools/call is an isError result; other methods JSON-RPC error 402)
  Payments         Lightning: LNbits (FakeWallet) ${ln.url}, payer wallet keys in ${rel(RUN)}/lightning.json
                   x402 and MPP: Hardhat ${chain.network} ${chain.rpcUrl}, token ${TOKEN_NAME} ${chain.token},
                   the official x402 facilitator ${facilitator.url}; a funded payer account in ${rel(RUN)}/x402.json
  OAuth            optional mode; authorization server ${authServer.issuer}, demo clients in ${rel(RUN)}/oauth.json

  Try (without an x-api-key every caller counts as one client; what they send: cat ${rel(TRY_HEADERS)} ${rel(TRY_BODY)}):
    1. a tool call through the gateway, MCP 2026-07-28:
       ${tryCall()}
    2. spend the quota, then see the HTTP 402 and its challenges (WWW-Authenticate: PoW, L402, Payment; PAYMENT-REQUIRED):
       for i in $(seq 60); do ${tryCall(' -o /dev/null')}; done
       ${tryCall("D - -o /dev/null -H 'gatehouse-accept: 402'")}
    3. what a stock MCP client gets instead, in-band: run 1 again (an isError tool result with the same offers)

  Demo agents, each with its own API key, running past the quota:`);

// The demo agents, one live line each: rewritten in place on a terminal, printed every 15 s
// (when something changed) and once at the end otherwise.
traffic = startDemoTraffic(`${base}/mcp`, {
  adminSecret,
  pay: ln.pay,
  chain,
  payers: chain.payers.slice(0, AGENT_PAYERS),
  mcp2026Url: `${base}/mcp-2026`,
  log,
});
const width = () => Math.max(40, (process.stdout.columns || 160) - 1);
const lines = () => traffic.agents.map((a) => `    ${agentLine(a)}`.slice(0, process.stdout.isTTY ? width() : undefined));
let shown = null;
function render(final = false) {
  const now = lines();
  const text = now.join('\n');
  if (text === shown) return;
  if (process.stdout.isTTY) {
    const up = shown === null ? '' : `\x1b[${now.length}A`;
    process.stdout.write(`${up}${now.map((l) => `\r\x1b[2K${l}`).join('\n')}\n`);
  } else if (final || shown === null || Date.now() - lastPrint >= 15_000) {
    process.stdout.write(`${text}\n${final ? '' : '\n'}`);
    lastPrint = Date.now();
  } else return;
  shown = text;
}
let lastPrint = 0;
render();
const ticker = setInterval(render, process.stdout.isTTY ? 500 : 1_000);
await traffic.done;
clearInterval(ticker);
render(true);
for (const a of traffic.agents) log(`${agentLine(a)}\n`);
if (process.env.DISPLAY) {
  spawn('xdg-open', [`http://admin:${adminSecret}@127.0.0.1:${GATEWAY_PORT}/admin`], { stdio: 'ignore', detached: true }).on('error', () => {}).unref();
}
