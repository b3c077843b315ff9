// `npm start`: the gateway on wrangler dev with its local defaults, in front of the demo MCP
// origin, with a local D1 and local Durable Objects. Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const GATEWAY_PORT = Number(process.env.GATEHOUSE_PORT ?? 8787);
const ORIGIN_PORT = Number(process.env.ORIGIN_PORT ?? 8790);
const DEV_VARS = join(ROOT, '.dev.vars');

function ensureDevVars() {
  if (existsSync(DEV_VARS)) return;
  // Local secrets, generated once per checkout and never committed (.gitignore).
  writeFileSync(DEV_VARS, [
    '# Written by `npm start`: local development values. Delete to regenerate.',
    'LOCAL_DEV=true',
    `ORIGIN_URL=http://127.0.0.1:${ORIGIN_PORT}`,
    `TOKEN_SIGNING_KEYS=local:${randomBytes(32).toString('hex')}`,
    `ADMIN_SECRET=${randomBytes(24).toString('hex')}`,
    '',
  ].join('\n'), { mode: 0o600 });
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
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

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

start('demo origin', process.execPath, [join(ROOT, 'demo', 'origin.mjs'), '--port', String(ORIGIN_PORT)]);
start('wrangler dev', 'wrangler', ['dev', '--ip', '127.0.0.1', '--port', String(GATEWAY_PORT), '--show-interactive-dev-session=false']);

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

  Try it:
    npx @modelcontextprotocol/inspector --cli ${base}/mcp --transport http --method tools/list

  Ctrl-C stops everything.
`);
}
