// `npm start` as someone runs it: scripts/start.mjs with everything real (wrangler dev and workerd,
// LNbits, the Hardhat chain and the official facilitator, the oidc-provider server, both demo
// origins, the demo agents), on free ports and in a run folder of its own (GATEHOUSE_RUN_DIR) so a
// running `npm start` is left alone. It serves the built Worker (build/) as it is.
//
// - Quiet: the screen has the setup lines, the banner and the agents' lines, and nothing of what
//   its children print (wrangler, workerd, the migrations, LNbits, build chatter, warnings); that
//   goes to start.log, where the wrangler output is found. No `Request.cf` warning anywhere.
// - Every rail, both transports: each demo agent ran past its quota and got through each 402 it
//   met its own way (PoW, L402, x402, MPP over HTTP; MPP, x402 in MCP; 2026-07-28 in-band).
// - The banner's commands work as shown (the first one is run as printed).
// - Stopped by a signal, it leaves nothing listening.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { COMPATIBILITY, ROOT, freePort } from './support/gateway.mjs';

const run = promisify(execFile);
const PORTS = ['GATEHOUSE_PORT', 'ORIGIN_PORT', 'ORIGIN_2026_PORT', 'LNBITS_PORT', 'AUTH_PORT', 'CHAIN_PORT', 'FACILITATOR_PORT'];
const AGENTS = ['pow-1', 'pow-2', 'l402', 'x402', 'mpp', 'mpp-mcp', 'x402-mcp', '2026'].map((a) => `demo-agent-${a}`);

const listening = (port) => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

describe('npm start (scripts/start.mjs)', () => {
  let child, dir, ports, screen = '', exited;
  /** The agents' last lines once every agent has finished: the final render. */
  let finalLines;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
    ports = {};
    for (const name of PORTS) ports[name] = String(await freePort());
    // Its stdout is a pipe here, not a terminal: the agents' lines are printed, not redrawn.
    child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      env: { ...process.env, ...ports, GATEHOUSE_RUN_DIR: dir, DISPLAY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.stdout.on('data', (c) => { screen += c; });
    child.stderr.on('data', (c) => { screen += c; });
    const deadline = Date.now() + 420_000;
    for (;;) {
      const lines = screen.split('\n');
      const last = AGENTS.map((a) => lines.findLast((l) => l.trim().startsWith(`${a}:`)));
      if (last.every((l) => l && /— (done|stopped)/.test(l))) { finalLines = last; break; }
      if (child.exitCode !== null) throw new Error(`start.mjs exited ${child.exitCode}:\n${screen}`);
      if (Date.now() > deadline) throw new Error(`the agents did not finish:\n${screen}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, { timeout: 450_000 });

  after(async () => {
    if (child && child.exitCode === null) { child.kill('SIGKILL'); }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the screen holds the setup lines, the banner and the agents, and the children speak only to the log', () => {
    const log = readFileSync(join(dir, 'start.log'), 'utf8');
    for (const noise of ['[wrangler', 'custom build', 'Your Worker has access', 'oidc-provider WARNING', '{"event"', 'StreamableHTTP session manager', 'Request.cf']) {
      assert.ok(!screen.includes(noise), `the screen shows ${JSON.stringify(noise)}:\n${screen}`);
    }
    assert.doesNotMatch(screen, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace on screen');
    assert.match(log, /Your Worker has access to the following bindings/, 'wrangler output went to the log');
    assert.match(log, /origin_2026 listening on/);
    assert.ok(!log.includes('Request.cf'), 'no Request.cf fetch, so no warning and no stack trace');
    const steps = screen.split('\n').filter((l) => l.startsWith('  ✓ '));
    assert.equal(steps.length, 10, steps.join('\n'));
    assert.ok(!screen.includes('✗'), screen);
    const agentLines = screen.split('\n').filter((l) => AGENTS.some((a) => l.trim().startsWith(`${a}:`)));
    const other = screen.split('\n').filter((l) => l.trim() && !agentLines.includes(l));
    assert.ok(other.length <= 45, `${other.length} lines besides the agents':\n${other.join('\n')}`);
    for (const want of [`http://127.0.0.1:${ports.GATEHOUSE_PORT}/mcp `, `http://127.0.0.1:${ports.GATEHOUSE_PORT}/mcp-2026 `, `http://127.0.0.1:${ports.GATEHOUSE_PORT}/admin `]) {
      assert.ok(screen.includes(want), `the banner names ${want}`);
    }
    const secret = readFileSync(join(ROOT, '.dev.vars'), 'utf8').match(/^ADMIN_SECRET=(.*)$/m)[1];
    assert.ok(screen.includes(`user admin, password ${secret}`));
  });

  test('every agent ran past its quota and got through each refusal it met', () => {
    for (const line of finalLines) {
      const m = line.match(/(\d+)\/(\d+) calls, (\d+) × 402 met \((HTTP|in-band)\), (\d+) .*, (\d+) failed — done$/);
      assert.ok(m, line);
      const [, calls, target, met, , through, failed] = m.map((v, i) => (i >= 1 && i !== 4 ? Number(v) : v));
      assert.equal(calls, target, line);
      assert.equal(failed, 0, line);
      assert.ok(met >= 1, `met no 402: ${line}`);
      assert.equal(through, met, line);
    }
    const of = (a) => finalLines[AGENTS.indexOf(a)];
    assert.match(of('demo-agent-mpp'), /× 402 met \(HTTP\), \d+ paid with MPP \(Payment-Receipt\)/);
    assert.match(of('demo-agent-mpp-mcp'), /× 402 met \(in-band\), \d+ paid with MPP in _meta/);
    assert.match(of('demo-agent-x402-mcp'), /× 402 met \(in-band\), \d+ paid with x402 in _meta/);
    assert.match(of('demo-agent-2026'), /MCP 2026-07-28, /);
    // Pay per call: every call past the quota was paid on its own.
    for (const a of ['demo-agent-x402', 'demo-agent-mpp', 'demo-agent-mpp-mcp', 'demo-agent-x402-mcp']) {
      assert.ok(Number(of(a).match(/, (\d+) × 402/)[1]) >= 5, of(a));
    }
  });

  test('the first command of the banner works as printed, on the 2026-07-28 route', async () => {
    const printed = screen.split('\n').find((l) => /^\s+curl -s http:\/\/127\.0\.0\.1:\d+\/mcp-2026 -H @/.test(l)).trim();
    const args = printed.split(' ').slice(1);
    const { stdout } = await run('curl', args, { timeout: 30_000 });
    const answer = JSON.parse(stdout);
    assert.equal(answer.result.isError, false, stdout);
    assert.deepEqual(answer.result.content, [{ type: 'text', text: 'hi' }]);
    assert.equal(answer.result.resultType, 'complete', 'served by the 2026-07-28 origin');
  });

  test('a signal stops it, and everything it started', async () => {
    child.kill('SIGTERM');
    await exited;
    await new Promise((r) => setTimeout(r, 1_000));
    for (const [name, port] of Object.entries(ports)) assert.equal(await listening(Number(port)), false, `${name} ${port} still listening`);
  });
});

// `npm start` and `wrangler deploy` read wrangler.toml with wrangler's own parser; every other test
// runs the built Worker through Miniflare with what tests/support/gateway.mjs reads from that
// file. The two must agree, or the tests would exercise another runtime than the deployed one.
test('the tests run the gateway on the compatibility date and flags wrangler deploys it with', async () => {
  const { unstable_readConfig } = await import('wrangler');
  const config = unstable_readConfig({ config: join(ROOT, 'wrangler.toml') });
  assert.deepEqual(COMPATIBILITY, {
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
  });
});
