// Upgrades a local deployment that has state, the way an operator would: the release before the
// Durable Object split runs under `wrangler dev` with persisted state until a client is over its
// quota; then this checkout's build (with the v2 migration and its D1 migrations) starts on the
// same state. The client must still be over quota (its counters carried over), and a proof of
// work bought afterwards must work (the new credential class is live).
//
//   node scripts/upgrade-check.mjs [FROM-COMMIT]    (after `npm run build`; takes a few minutes)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../demo/origin.mjs';
import { solvePow } from '../clients/js/pow.mjs';

const ROOT = join(import.meta.dirname, '..');
const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
const splitCommit = git('log', '--format=%H', '-1', '-S', 'tag = "v2"', '--', 'wrangler.toml');
const FROM = process.argv[2] ?? git('rev-parse', `${splitCommit}^`);
const KEYS = 'k1:upgrade-check-signing-key-0123456789abcdef';
const PORT = 8799;
const base = `http://127.0.0.1:${PORT}`;
const call = (i) => fetch(`${base}/mcp`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'upgrade-check' },
  body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'upgrade-check', version: '1' } } }),
});

function wranglerDev(cwd, state, origin) {
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(PORT), '--show-interactive-dev-session=false', '--persist-to', state,
    '--var', `ORIGIN_URL:${origin}`, '--var', 'LOCAL_DEV:true', '--var', `TOKEN_SIGNING_KEYS:${KEYS}`,
    '--var', 'QUOTA_PER_MINUTE:3', '--var', 'POW_ADAPTIVE:false'];
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'wrangler'), args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  return { stop: () => { try { process.kill(-child.pid, 'SIGTERM'); } catch {} }, log: () => log };
}

async function up() {
  for (let i = 0; i < 240; i++) {
    try { if ((await fetch(`${base}/.well-known/none`)).status) return; } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('wrangler dev did not come up');
}

const migrate = (cwd, state) => execFileSync(join(ROOT, 'node_modules', '.bin', 'wrangler'), ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state], { cwd, stdio: 'ignore', env: { ...process.env, CI: 'true' } });

const work = mkdtempSync(join(tmpdir(), 'gatehouse-upgrade-'));
const old = join(work, 'old');
const state = join(work, 'state');
const origin = await startOrigin();
let dev;
try {
  console.log(`building ${FROM.slice(0, 12)} (before the split) in ${old}`);
  git('worktree', 'add', '--detach', old, FROM);
  symlinkSync(join(ROOT, 'node_modules'), join(old, 'node_modules'));
  symlinkSync(join(ROOT, '.tools'), join(old, '.tools'));
  execFileSync('bash', ['scripts/build.sh'], { cwd: old, stdio: 'ignore', env: { ...process.env, CARGO_TARGET_DIR: join(work, 'target') } });

  migrate(old, state);
  dev = wranglerDev(old, state, origin.url);
  await up();
  const before = [];
  for (let i = 0; i < 4; i++) before.push((await call(i)).status);
  console.log(`old release: ${before.join(' ')}`);
  // (The readiness probe is a request too, so the quota may run out a call earlier.)
  if (before[0] !== 200 || before.at(-1) !== 402) throw new Error(`unexpected statuses before the upgrade: ${before}`);
  dev.stop();
  await new Promise((r) => setTimeout(r, 2_000));

  migrate(ROOT, state);
  dev = wranglerDev(ROOT, state, origin.url);
  await up();
  const after = await call(9);
  const body = await after.json();
  console.log(`upgraded: ${after.status} (${body.error ?? 'admitted'})`);
  if (after.status !== 402) throw new Error(`the client's counters did not carry over: ${after.status}\n${dev.log()}`);
  const pow = body.challenges.find((c) => c.type === 'pow');
  const redeemed = await fetch(pow.verify_url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'upgrade-check' }, body: JSON.stringify({ challenge_id: pow.challenge_id, solution: { nonce: await solvePow(pow.salt, pow.difficulty) } }) });
  const redemption = await redeemed.json();
  if (redeemed.status !== 200) throw new Error(`redemption after the upgrade: ${redeemed.status} ${JSON.stringify(redemption)}`);
  const token = redemption.access_token;
  const paid = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'upgrade-check', 'x-access-token': token }, body: JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'upgrade-check', version: '1' } } }) });
  console.log(`a token bought after the upgrade: ${paid.status}, ${paid.headers.get('ratelimit')}`);
  if (paid.status !== 200) throw new Error(`the credential class does not work after the upgrade: ${paid.status}`);
  // wrangler dev cannot fetch `Request.cf` offline and says so with an "Error"; that is harmless.
  const errors = dev.log().split('\n').filter((l) => /error/i.test(l) && !/workers\.cloudflare\.com|Request\.cf/.test(l));
  if (errors.length) console.log(`wrangler printed:\n${errors.join('\n')}`);
  console.log('upgrade ok: state carried over, no error');
} finally {
  dev?.stop();
  await origin.close();
  try { git('worktree', 'remove', '--force', old); } catch {}
  rmSync(work, { recursive: true, force: true });
}
