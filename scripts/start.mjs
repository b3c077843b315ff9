// `npm start`: the gateway on wrangler dev with its local defaults, in front of the demo MCP
// origin, with a local D1 and local Durable Objects. Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLnbits } from '../demo/lnbits.mjs';
import { DEMO_CLIENTS, startAuthServer } from '../demo/auth-server.mjs';
import { demoTraffic } from '../demo/traffic.mjs';
import { gatewayVars, startChain } from '../demo/x402/chain.mjs';
import { startFacilitator } from '../demo/x402/facilitator.mjs';

const ROOT = join(import.meta.dirname, '..');
const GATEWAY_PORT = Number(process.env.GATEHOUSE_PORT ?? 8787);
const ORIGIN_PORT = Number(process.env.ORIGIN_PORT ?? 8790);
const LNBITS_PORT = Number(process.env.LNBITS_PORT ?? 5111);
const AUTH_PORT = Number(process.env.AUTH_PORT ?? 8791);
const CHAIN_PORT = Number(process.env.CHAIN_PORT ?? 8545);
const FACILITATOR_PORT = Number(process.env.FACILITATOR_PORT ?? 4021);
const DEV_VARS = join(ROOT, '.dev.vars');
const RUN = join(ROOT, '.run');
const LIGHTNING_JSON = join(RUN, 'lightning.json');

// Local secrets and settings, generated once per checkout and never committed (.gitignore).
// A key missing from an older .dev.vars is added; existing values are kept.
function ensureDevVars() {
  const wanted = {
    LOCAL_DEV: 'true',
    ORIGIN_URL: `http://127.0.0.1:${ORIGIN_PORT}`,
    TOKEN_SIGNING_KEYS: `local:${randomBytes(32).toString('hex')}`,
    ADMIN_SECRET: randomBytes(24).toString('hex'),
    L402_ROOT_KEY: randomBytes(32).toString('hex'),
  };
  const current = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, 'utf8') : '# Written by `npm start`: local development values. Delete to regenerate.\n';
  const missing = Object.entries(wanted).filter(([k]) => !new RegExp(`^${k}=`, 'm').test(current));
  if (missing.length) writeFileSync(DEV_VARS, current + missing.map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
}

const children = [];
function start(name, command, args) {
  // Own process group, so that stopping it stops whatever it spawned (workerd) too.
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: process.env });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
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

ensureDevVars();
const migrate = spawnSync('wrangler', ['d1', 'migrations', 'apply', 'DB', '--local'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, CI: 'true' } });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// A real local Lightning backend (LNbits, FakeWallet), fresh each start, so the demo's 402 offers
// an L402 invoice next to the proof of work, and a funded payer wallet to pay it with.
rmSync(join(RUN, 'lnbits'), { recursive: true, force: true });
mkdirSync(join(RUN, 'lnbits'), { recursive: true });
const ln = await startLnbits({ port: LNBITS_PORT, dataDir: join(RUN, 'lnbits') });
children.push({ pid: ln.pid });
writeFileSync(LIGHTNING_JSON, JSON.stringify({
  lnbits_url: ln.url,
  payer: { wallet_id: ln.payer.id, admin_key: ln.payer.adminkey, invoice_key: ln.payer.inkey },
  gateway_wallet: { wallet_id: ln.gateway.id, invoice_key: ln.gateway.inkey },
  pay_an_invoice: `curl -s -X POST ${ln.url}/api/v1/payments -H 'X-Api-Key: ${ln.payer.adminkey}' -H 'Content-Type: application/json' -d '{"out":true,"bolt11":"<invoice>"}'`,
}, null, 2), { mode: 0o600 });

// A real local EVM chain (Hardhat's node) with an EIP-3009 token, and the official x402
// facilitator over HTTP, so the 402 offers x402 too and a funded account can pay it.
const chain = await startChain({ port: CHAIN_PORT, payers: 2 });
children.push({ pid: chain.pid });
const facilitator = await startFacilitator(chain, { port: FACILITATOR_PORT });
writeFileSync(join(RUN, 'x402.json'), JSON.stringify({
  rpc_url: chain.rpcUrl,
  network: chain.network,
  token: chain.token,
  pay_to: chain.payTo,
  facilitator_url: facilitator.url,
  // One of Hardhat's well-known development keys: local use only.
  payer: { address: chain.payers[0].address, private_key: `0x${Buffer.from(chain.payers[0].getHdKey().privateKey).toString('hex')}` },
}, null, 2), { mode: 0o600 });

// A real authorization server (oidc-provider), with the gateway in `optional` mode: anonymous
// calls still work, a bearer token is checked, and `progress` needs the mcp:admin scope.
const authServer = await startAuthServer({ port: AUTH_PORT });
const resource = `http://127.0.0.1:${GATEWAY_PORT}/mcp`;

start('demo origin', process.execPath, [join(ROOT, 'demo', 'origin.mjs'), '--port', String(ORIGIN_PORT)]);
start('wrangler dev', 'wrangler', [
  'dev', '--ip', '127.0.0.1', '--port', String(GATEWAY_PORT), '--show-interactive-dev-session=false',
  '--var', 'CHALLENGE_OFFERS:x402,l402,pow',
  ...Object.entries(gatewayVars(chain, facilitator.url)).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  '--var', `L402_BACKEND_URL:${ln.url}`,
  '--var', `L402_BACKEND_KEY:${ln.gateway.inkey}`,
  '--var', 'RATE_KEY_HEADER:x-api-key',
  '--var', 'OAUTH_MODE:optional',
  '--var', `OAUTH_ISSUER:${authServer.issuer}`,
  '--var', `OAUTH_RESOURCE:${resource}`,
  '--var', 'OAUTH_REQUIRED_SCOPES:mcp:tools',
  '--var', 'OAUTH_TOOL_SCOPES:progress=mcp:admin',
]);

const base = `http://127.0.0.1:${GATEWAY_PORT}`;
if (!(await waitFor(base, 60_000))) {
  console.error('the gateway did not come up within 60 s');
  stop(1);
} else {
  const adminSecret = readFileSync(DEV_VARS, 'utf8').match(/^ADMIN_SECRET=(.*)$/m)?.[1];
  console.log(`
  Gatehouse is running.
    MCP endpoint (through the gateway): ${base}/mcp
    demo MCP origin (direct):           http://127.0.0.1:${ORIGIN_PORT}/mcp
    challenge redemption:               ${base}/api/verify-challenge
    admin API (Bearer from .dev.vars):  ${base}/admin/api/revoke   ADMIN_SECRET=${adminSecret}
    local Lightning (LNbits, FakeWallet): ${ln.url}   payer wallet keys: .run/lightning.json
    local chain (Hardhat, ${chain.network}):  ${chain.rpcUrl}   token ${chain.token}
    x402 facilitator (official):        ${facilitator.url}   payer account: .run/x402.json
    OAuth (optional mode):              metadata ${base}/.well-known/oauth-protected-resource/mcp
                                        authorization server ${authServer.issuer}

  Clients are counted by API key (header x-api-key); mint one, then call with it:
    curl -s -X POST ${base}/admin/api/keys -H 'authorization: Bearer ${adminSecret}' \\
      -H 'content-type: application/json' -d '{"id":"my-agent"}'
    curl -s ${base}/mcp -H 'x-api-key: <key>' -H 'content-type: application/json' \\
      -H 'accept: application/json, text/event-stream' \\
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
    (without a key, every client counts as one: local development cannot tell addresses apart,
    since its runtime lets a client set CF-Connecting-IP; a key the gateway did not sign is a 401)
    # past 60 requests a minute the gateway answers 402 with x402 (PAYMENT-REQUIRED), an L402
    # invoice and a proof of work; pay the invoice with the payer wallet ("pay_an_invoice" in
    # .run/lightning.json), or pay x402 with @x402/fetch and the payer account in .run/x402.json

  A demo OAuth token (client credentials; ${DEMO_CLIENTS.map((c) => c.client_id).join(' or ')}):
    curl -s -u ${DEMO_CLIENTS[0].client_id}:${DEMO_CLIENTS[0].client_secret} ${authServer.issuer}/token \\
      -d grant_type=client_credentials -d scope='mcp:tools mcp:admin' -d resource=${resource}

  Ctrl-C stops everything.
`);
  // Real traffic for the dashboard, then where to look at it.
  try {
    console.log(`  ${await demoTraffic(`${base}/mcp`, { pay: ln.pay, adminSecret, x402Signer: chain.payers[0] })}`);
  } catch (e) {
    console.error(`  demo traffic failed: ${e.message}`);
  }
  console.log(`\n  Dashboard: ${base}/admin   (user: admin, password: the ADMIN_SECRET above)\n`);
  if (process.env.DISPLAY) {
    spawn('xdg-open', [`http://admin:${adminSecret}@127.0.0.1:${GATEWAY_PORT}/admin`], { stdio: 'ignore', detached: true }).on('error', () => {}).unref();
  }
}
