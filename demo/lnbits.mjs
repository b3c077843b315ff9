// A real LNbits (FakeWallet funding source) on loopback with a fresh data folder: it issues real,
// signed BOLT11 invoices and settles payments between its own wallets, with no Lightning network.
// Installed by scripts/setup.sh into .tools/lnbits. Used by `npm start` and the L402 tests.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const ROOT = join(import.meta.dirname, '..');

const VENV = join(ROOT, '.tools', 'lnbits');

async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function call(base, method, path, { body, headers = {} } = {}) {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: body && JSON.stringify(body), redirect: 'manual' });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`LNbits ${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** Starts LNbits; resolves once its API answers, with a gateway wallet and a funded payer. */
export async function startLnbits({ port, fundSats = 1_000_000, dataDir } = {}) {
  port ??= await freePort();
  const work = dataDir ?? mkdtempSync(join(tmpdir(), 'gatehouse-lnbits-'));
  mkdirSync(join(work, 'data'), { recursive: true });
  const site = execFileSync(join(VENV, 'bin', 'python'), ['-I', '-c', 'import importlib.util as u,os;print(os.path.dirname(u.find_spec("lnbits").origin))'], { encoding: 'utf8' }).trim();
  // LNbits mounts its static files relative to the working directory.
  try { symlinkSync(site, join(work, 'lnbits')); } catch {}
  const env = {
    ...process.env,
    LNBITS_BACKEND_WALLET_CLASS: 'FakeWallet',
    LNBITS_DATA_FOLDER: join(work, 'data'),
    LNBITS_EXTENSIONS_PATH: join(work, 'ext'),
    AUTH_HTTPS_ONLY: 'false',
    LNBITS_RATE_LIMIT_NO: '1000000',
    ENABLE_LOG_TO_FILE: 'false',
    LNBITS_PRICE_AGGREGATOR_ENABLED: 'false',
    LNBITS_EXCHANGE_RATE_PROVIDERS: '[]',
    LNBITS_EXTENSIONS_MANIFESTS: '[]',
    LNBITS_WASM_EXTENSIONS_MANIFESTS: '[]',
    LNBITS_EXTENSIONS_BUILDER_MANIFEST_URL: '',
  };
  const child = spawn(join(VENV, 'bin', 'lnbits'), ['--host', '127.0.0.1', '--port', String(port)], { cwd: work, env, stdio: 'ignore', detached: true });
  const stop = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} };
  const base = `http://127.0.0.1:${port}`;
  // If LNbits fails to import, its parent never exits: poll with a deadline.
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      const res = await fetch(`${base}/api/v1/health`, { redirect: 'manual' });
      if (res.status === 200 || res.status === 307) break;
    } catch {}
    if (Date.now() > deadline) { stop(); throw new Error('LNbits did not come up in 90 s'); }
    await new Promise((r) => setTimeout(r, 250));
  }
  const password = 'gatehouse-local-admin';
  const { access_token: superToken } = await call(base, 'PUT', '/api/v1/auth/first_install', { body: { username: 'admin', password, password_repeat: password } });
  const gateway = await call(base, 'POST', '/api/v1/account', { body: { name: 'gateway' } });
  const payer = await call(base, 'POST', '/api/v1/account', { body: { name: 'payer' } });
  await call(base, 'PUT', '/users/api/v1/balance', { body: { id: payer.id, amount: fundSats }, headers: { authorization: `Bearer ${superToken}` } });
  return {
    url: base,
    pid: child.pid,
    work,
    gateway: { id: gateway.id, inkey: gateway.inkey, adminkey: gateway.adminkey },
    payer: { id: payer.id, inkey: payer.inkey, adminkey: payer.adminkey },
    /** Pays a BOLT11 invoice from the payer wallet; resolves to the preimage (hex). */
    async pay(bolt11) {
      const r = await call(base, 'POST', '/api/v1/payments', { body: { out: true, bolt11 }, headers: { 'x-api-key': payer.adminkey } });
      if (r.preimage) return r.preimage;
      const status = await call(base, 'GET', `/api/v1/payments/${r.payment_hash}`, { headers: { 'x-api-key': payer.adminkey } });
      return status.preimage;
    },
    async balanceMsat(wallet) {
      return (await call(base, 'GET', '/api/v1/wallet', { headers: { 'x-api-key': wallet.inkey } })).balance;
    },
    stop,
  };
}
