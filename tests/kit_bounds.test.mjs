// Every read the client kit makes is bounded in bytes and in time, and a body it drops is
// cancelled. Each test sends what an attacker sent, from a hostile local server on 127.0.0.1,
// and asserts that the call settles well within a bound the test enforces itself, and, for the
// large bodies, that the server saw the client stop reading long before the end:
//
// - a marked 402 over the kit's 64 KiB cap hung the JS wrapper (the capped read cancelled one
//   branch of a tee'd stream while the other was held); so did a 100 KB 401 once it held a token;
// - the Python flow read a 200 MB marked 402 whole before checking its size;
// - the Python flow answered one challenge more than `max_rounds` (the JS wrapper did not);
// - a body that stalls after its headers, a 503's body the wrapper waits out, a redemption's
//   answer, a wallet's answer and what the stdio bridge passes on were read without a deadline
//   or a cap.
//
// None of it needs the gateway: the servers answer as the gateway would, marker included.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { MAX_BODY_BYTES, MAX_MESSAGE_BYTES, gatehouseFetch, limitMessages, readCapped, wire } from '../clients/js/index.mjs';
import { l402Offer, powOffer } from './support/hostile.mjs';

const ROOT = join(import.meta.dirname, '..');
const BRIDGE = join(ROOT, 'clients', 'js', 'bin', 'gatehouse.mjs');
const PYTHON = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
const PY_CLIENT = join(ROOT, 'tests', 'python_kit_client.py');
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } });
const MARKED = { 'content-type': 'application/json', [wire.headers.challenge_marker]: wire.header_values.challenge_marker };
/** What the test allows any call to take before calling it hung: far more than any bound in the kit under test. */
const SETTLE_MS = 10_000;
/** Bytes a server may have written to a client that stopped reading: what the kernel buffers on loopback, with room. */
const BUFFERED = 32 * 1024 * 1024;
const MiB = 1024 * 1024;
/** The size of the large bodies, as the attack sent them: a client that reads one whole shows. */
const BIG = 200 * MiB;
/** An invoice with an amount (250 000 sats), paid by wallets that pay nothing (`fakeWallet`). */
const INVOICE = JSON.parse(readFileSync(join(ROOT, 'docs', 'bolt11-vectors.json'), 'utf8')).vectors[1].invoice;

/**
 * A server whose answers `answer(hit, n)` scripts (n counts requests): `{ status, headers, body,
 * pad, stall }` sends the status, headers and `body`, then `pad` bytes more as fast as the client
 * takes them, or, with `stall`, nothing more, holding the connection open. `hits` records the
 * requests; `padded` the outcome of each padded answer: the bytes written before the client went
 * away, and whether it did.
 */
async function startScripted(answer) {
  const hits = [];
  const padded = [];
  const stalled = [];
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const hit = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    hits.push(hit);
    const a = answer(hit, hits.length);
    res.writeHead(a.status, a.headers);
    if (a.body) res.write(a.body);
    if (a.stall) {
      res.flushHeaders();
      stalled.push(new Promise((resolve) => res.on('close', resolve)));
    } else if (a.pad) {
      padded.push(pad(res, a.pad));
    } else {
      res.end();
    }
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url, hits, padded, stalled,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** Writes `size` bytes of JSON-ish filler, no faster than the client reads. */
async function pad(res, size) {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let written = 0;
  let gone = false;
  const closed = new Promise((r) => res.once('close', () => { gone = true; r(); }));
  while (written < size && !gone) {
    written += chunk.length;
    if (!res.write(chunk)) await Promise.race([new Promise((r) => res.once('drain', r)), closed]);
  }
  if (!gone) res.end();
  return { written, stopped: gone && written < size };
}

/** Resolves to `{ value }` or `{ error }`; fails the test if `promise` has not settled in `ms`. */
async function settles(promise, ms = SETTLE_MS) {
  let timer;
  const bound = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: hung`)), ms); });
  try {
    return await Promise.race([Promise.resolve(promise).then((value) => ({ value }), (error) => ({ error })), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server saw the client stop reading its padded answer far short of the end. */
async function stoppedReading(server, size) {
  const { value } = await settles(server.padded.at(-1));
  assert.ok(value.stopped, `the client read all ${size} bytes`);
  assert.ok(value.written < BUFFERED, `${value.written} bytes written before the client stopped`);
}

const post = (fetchFn, url) => fetchFn(url, { method: 'POST', headers: MCP, body: CALL });
const over = (extra = {}) => ({ status: 402, headers: MARKED, body: '{"challenges":[', pad: BIG, ...extra });

function fakeWallet() {
  const paid = [];
  return { paid, payInvoice: async ({ invoice }) => { paid.push(invoice); return { preimage: '00'.repeat(32) }; } };
}

describe('the JS wrapper', () => {
  test('settles on a marked 402 over the cap, answers nothing, and stops reading it', async () => {
    const server = await startScripted(() => over());
    try {
      const events = [];
      const { value: res, error } = await settles(post(gatehouseFetch({ wallet: fakeWallet(), onEvent: (e) => events.push(e) }), `${server.url}/mcp`));
      assert.equal(error, undefined);
      assert.equal(res.status, 402);
      assert.deepEqual(events, [{ type: 'ignored', reason: 'body_over_cap' }]);
      // What the caller gets is cut off where the kit stopped, not read on to the end.
      assert.match(String((await settles(res.arrayBuffer())).error?.message), /body over 65536 bytes/);
      await stoppedReading(server, BIG);
      assert.equal(server.hits.length, 1, 'no redemption, no retry');
    } finally {
      await server.close();
    }
  });

  test('settles on an unmarked 100 KB 401 once it holds a token', async () => {
    const server = await startScripted((hit) => {
      if (hit.path === '/verify') return { status: 200, headers: MARKED, body: JSON.stringify({ access_token: 'tok', expires_in: 60 }) };
      if (!hit.headers[wire.headers.access_token]) return { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [powOffer('/verify')] }) };
      return { status: 401, headers: { 'content-type': 'application/json' }, body: '{"error":"origin_says_no","pad":"', pad: 100_000 };
    });
    try {
      const { value: res, error } = await settles(post(gatehouseFetch(), `${server.url}/mcp`));
      assert.equal(error, undefined);
      assert.equal(res.status, 401);
      assert.equal(server.hits.filter((h) => h.path === '/verify').length, 1);
      assert.match(String((await settles(res.arrayBuffer())).error?.message), /body over 65536 bytes/, 'cut off at the cap');
    } finally {
      await server.close();
    }
  });

  test('gives a stalled 402 or 401 body up at its deadline and hands the response back', async () => {
    const server = await startScripted((hit) => {
      if (hit.path === '/verify') return { status: 200, headers: MARKED, body: JSON.stringify({ access_token: 'tok' }) };
      if (hit.path === '/402') return { status: 402, headers: MARKED, body: '{"challenges":', stall: true };
      if (!hit.headers[wire.headers.access_token]) return { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [powOffer('/verify')] }) };
      return { status: 401, headers: { 'content-type': 'application/json' }, stall: true };
    });
    try {
      const events = [];
      const wrapped = gatehouseFetch({ readDeadlineMs: 300, onEvent: (e) => events.push(e) });
      const stalled402 = await settles(post(wrapped, `${server.url}/402`));
      assert.equal(stalled402.value?.status, 402);
      assert.ok(events.some((e) => e.reason === 'body_past_deadline'), JSON.stringify(events));
      assert.ok((await settles(stalled402.value.arrayBuffer())).error, 'the body is cut off at the deadline');
      const stalled401 = await settles(post(wrapped, `${server.url}/mcp`));
      assert.equal(stalled401.value?.status, 401);
      await settles(Promise.all(server.stalled)); // the client closed both stalled connections
    } finally {
      await server.close();
    }
  });

  test('cancels a 503\'s body it waits out instead of reading it', async () => {
    const server = await startScripted((hit, n) => (n === 1
      ? { status: 503, headers: { [wire.headers.retry_after]: '1' }, stall: true }
      : { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }));
    try {
      const { value: res } = await settles(post(gatehouseFetch(), `${server.url}/mcp`));
      assert.equal(res?.status, 200);
      await settles(Promise.all(server.stalled));
    } finally {
      await server.close();
    }
  });

  test('bounds the redemption: its answer\'s size, its body\'s deadline, and its headers\' wait', async () => {
    const challenge = { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [powOffer('/verify')] }) };
    for (const [verify, bound] of [
      [{ status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":"', pad: BIG }, 'size'],
      [{ status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":', stall: true }, 'body deadline'],
    ]) {
      const server = await startScripted((hit) => (hit.path === '/verify' ? verify : challenge));
      try {
        const { error } = await settles(post(gatehouseFetch({ readDeadlineMs: 300 }), `${server.url}/mcp`));
        assert.match(String(error?.message), /redemption refused: 200/, bound);
        if (verify.pad) await stoppedReading(server, verify.pad);
      } finally {
        await server.close();
      }
    }
    // A redemption whose answer never comes: the request itself has a deadline.
    const silent = http.createServer((req, res) => { if (req.url !== '/verify') res.writeHead(402, MARKED).end(challenge.body); });
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { error } = await settles(post(gatehouseFetch({ redeemDeadlineMs: 300 }), `http://127.0.0.1:${silent.address().port}/mcp`));
      assert.match(String(error?.name), /TimeoutError|AbortError/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('signs no x402 payment for a marked 402 over the cap', async () => {
    const server = await startScripted(() => over({ headers: { ...MARKED, [wire.headers.payment_required]: Buffer.from('{}').toString('base64') } }));
    let signed = 0;
    const signer = { address: `0x${'11'.repeat(20)}`, signTypedData: async () => { signed++; return '0x'; } };
    try {
      const { value: res } = await settles(post(gatehouseFetch({ x402: { signer } }), `${server.url}/mcp`));
      assert.equal(res?.status, 402);
      assert.equal(signed, 0);
      await stoppedReading(server, BIG);
    } finally {
      await server.close();
    }
  });
});

describe('the shared readers', () => {
  test('readCapped keeps a body within the cap whole, for the kit and the caller alike', async () => {
    const server = await startScripted(() => ({ status: 402, headers: MARKED, body: JSON.stringify({ challenges: [] }) }));
    try {
      const read = await readCapped(await fetch(server.url));
      assert.equal(read.problem, null);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(read.bytes)), { challenges: [] });
      assert.deepEqual(await read.response.json(), { challenges: [] });
      assert.equal(read.response.status, 402);
      assert.equal(read.response.headers.get(wire.headers.challenge_marker), '1');
      assert.ok(MAX_BODY_BYTES === 65_536);
    } finally {
      await server.close();
    }
  });

  test('limitMessages fails a body that stalls, and one message over its cap, and cancels them', async () => {
    const server = await startScripted((hit) => {
      if (hit.path === '/json') return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":', stall: true };
      if (hit.path === '/sse') return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: 'data: {"a":1}\n\ndata: {"b":', stall: true };
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: 'data: ', pad: BIG };
    });
    try {
      const json = limitMessages(await fetch(`${server.url}/json`), MAX_MESSAGE_BYTES, 300);
      assert.ok((await settles(json.text())).error);
      // A complete event passes at once; the one that then stalls fails at its deadline.
      const sse = limitMessages(await fetch(`${server.url}/sse`), MAX_MESSAGE_BYTES, 300);
      const reader = sse.body.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /^data: \{"a":1\}/);
      assert.ok((await settles(reader.read())).error);
      await settles(Promise.all(server.stalled));
      const big = limitMessages(await fetch(`${server.url}/big`), 1 * MiB, 5_000);
      assert.match(String((await settles(big.text())).error?.message), /over 1048576 bytes/);
      await stoppedReading(server, BIG);
    } finally {
      await server.close();
    }
  });
});

describe('the stdio bridge', () => {
  /** Runs the bridge against `url`, initializes and calls a tool; resolves to the error, if any. */
  async function throughBridge(url, args = [], env = {}) {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BRIDGE, 'connect', url, ...args], env: { ...process.env, ...env }, stderr: 'pipe' });
    const client = new Client({ name: 'bounds-bridge-client', version: '1.0.0' });
    try {
      const outcome = await settles(client.connect(transport).then(() => client.callTool({ name: 'echo', arguments: { message: 'x' } })));
      return outcome.error ?? null;
    } finally {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
    }
  }

  test('passes a marked in-band answer over the cap on unread, and the call fails instead of hanging', async () => {
    const server = await startScripted(() => ({ status: 200, headers: MARKED, body: '{"jsonrpc":"2.0","id":0,"error":{"code":402,"data":"', pad: 200_000 }));
    try {
      assert.ok(await throughBridge(`${server.url}/mcp`, ['--no-declare-402']), 'the call fails');
    } finally {
      await server.close();
    }
  });

  test('settles on a marked 402 over the cap', async () => {
    const server = await startScripted(() => over());
    try {
      // The SDK reports the 402 by its body, which the kit cut off: the call fails, unanswered.
      assert.match(String((await throughBridge(`${server.url}/mcp`))?.message), /Error POSTing to endpoint/);
      await stoppedReading(server, BIG);
    } finally {
      await server.close();
    }
  });

  test('stops reading a gateway\'s message over 10 MiB', async () => {
    const server = await startScripted(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":0,"result":"', pad: BIG }));
    try {
      assert.ok(await throughBridge(`${server.url}/mcp`), 'the call fails');
      const { value } = await settles(server.padded.at(-1));
      assert.ok(value.stopped && value.written < MAX_MESSAGE_BYTES + BUFFERED, `${value.written} bytes written`);
    } finally {
      await server.close();
    }
  });

  test('stops reading a wallet\'s answer over the cap, and pays nothing more', async () => {
    const server = await startScripted((hit) => (hit.path === '/api/v1/payments'
      ? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"preimage":"', pad: BIG }
      : { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [l402Offer(INVOICE, '/verify')] }) }));
    try {
      const err = await throughBridge(`${server.url}/mcp`, ['--max-sats-per-invoice', '250000', '--max-sats-total', '250000'], { LNBITS_URL: server.url, LNBITS_ADMIN_KEY: 'k' });
      assert.match(String(err?.message), /payment hash/);
      await stoppedReading(server, BIG);
      assert.equal(server.hits.filter((h) => h.path === '/verify').length, 0);
    } finally {
      await server.close();
    }
  });

  test('closes rather than buffer a stdin message over 10 MiB', async () => {
    const server = await startScripted(() => ({ status: 405, headers: {} }));
    const bridge = spawn(process.execPath, [BRIDGE, 'connect', `${server.url}/mcp`], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const exited = new Promise((resolve) => bridge.on('exit', resolve));
      bridge.stdin.on('error', () => {});
      bridge.stdin.write(Buffer.alloc(MAX_MESSAGE_BYTES + MiB, 0x20));
      assert.ok(!(await settles(exited)).error);
    } finally {
      bridge.kill();
      await server.close();
    }
  });
});

/** Runs the Python flow (`python_kit_client.py run`); fails the test if it has not finished in `SETTLE_MS`. */
async function python(args) {
  const run = new Promise((resolve, reject) => execFile(PYTHON, [PY_CLIENT, 'run', ...args], { timeout: SETTLE_MS * 2 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').at(-1))))));
  const { value, error } = await settles(run);
  if (error) throw error;
  return value;
}

describe('the Python flow', { skip: !existsSync(PYTHON) && 'no .tools/pyclient (scripts/setup.sh makes it)' }, () => {
  const MODES = [[], ['--async']];

  test('stops reading a 200 MB marked 402 at the cap, sync and async', async () => {
    for (const mode of MODES) {
      for (const stream of [[], ['--stream']]) {
        const server = await startScripted(() => over());
        try {
          const result = await python([`${server.url}/mcp`, '1', ...mode, ...stream]);
          assert.deepEqual(result.events, [{ type: 'ignored', reason: 'body_over_cap' }], `${mode} ${stream}`);
          // Read as the SDK reads a 4xx (`--stream`), the 402 comes back; read whole by
          // `client.post`, its body fails where the flow stopped instead of being read on.
          assert.deepEqual(stream.length ? result.statuses : result.errors, stream.length ? [402] : ['ReadError']);
          await stoppedReading(server, BIG);
        } finally {
          await server.close();
        }
      }
    }
  });

  test('settles on an unmarked 100 KB 401 once it holds a token, and on a stalled one', async () => {
    for (const stall of [false, true]) {
      const server = await startScripted((hit) => {
        if (hit.path === '/verify') return { status: 200, headers: MARKED, body: JSON.stringify({ access_token: 'tok' }) };
        if (!hit.headers[wire.headers.access_token]) return { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [powOffer('/verify')] }) };
        return stall ? { status: 401, headers: {}, stall: true } : { status: 401, headers: {}, body: '{"error":"', pad: 100_000 };
      });
      try {
        for (const mode of MODES) {
          const result = await python([`${server.url}/mcp`, '1', ...mode, '--stream', '--read-deadline', '0.3']);
          assert.deepEqual(result.statuses, [401], `${mode} stall=${stall}`);
        }
      } finally {
        await server.close();
      }
    }
  });

  test('gives a stalled marked 402 up at its deadline', async () => {
    const server = await startScripted(() => ({ status: 402, headers: MARKED, body: '{"challenges":', stall: true }));
    try {
      for (const mode of MODES) {
        const result = await python([`${server.url}/mcp`, '1', ...mode, '--read-deadline', '0.3']);
        assert.deepEqual(result.events, [{ type: 'ignored', reason: 'body_past_deadline' }], `${mode}`);
        assert.deepEqual(result.errors, ['ReadError']);
      }
      await settles(Promise.all(server.stalled));
    } finally {
      await server.close();
    }
  });

  test('bounds the redemption\'s answer in size and time', async () => {
    const challenge = { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [powOffer('/verify')] }) };
    for (const verify of [
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":"', pad: BIG },
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":', stall: true },
    ]) {
      const server = await startScripted((hit) => (hit.path === '/verify' ? verify : challenge));
      try {
        for (const mode of MODES) {
          const result = await python([`${server.url}/mcp`, '1', ...mode, '--read-deadline', '0.3']);
          assert.deepEqual(result.events.at(-1), { type: 'redemption_refused', status: 200 }, `${mode}`);
          assert.deepEqual(result.statuses, [402]);
          if (verify.pad) await stoppedReading(server, verify.pad);
        }
      } finally {
        await server.close();
      }
    }
  });
});

describe('max rounds: the same in JS and Python', () => {
  /** A server that answers every call with a marked 402 and every redemption with a token. */
  const endless = (offer) => startScripted((hit) => (hit.path === '/verify'
    ? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ access_token: `t${hit.body.length}`, expires_in: 60 }) }
    : { status: 402, headers: MARKED, body: JSON.stringify({ challenges: [offer] }) }));
  const count = (server) => ({ calls: server.hits.filter((h) => h.path === '/mcp').length, redemptions: server.hits.filter((h) => h.path === '/verify').length });

  test('answers at most max rounds of proofs of work per call', async () => {
    for (const maxRounds of [1, 3]) {
      const expected = { calls: maxRounds + 1, redemptions: maxRounds };
      let server = await endless(powOffer('/verify'));
      try {
        const { value: res } = await settles(post(gatehouseFetch({ maxRounds }), `${server.url}/mcp`));
        assert.equal(res?.status, 402);
        assert.deepEqual(count(server), expected, `JS, maxRounds ${maxRounds}`);
      } finally {
        await server.close();
      }
      if (!existsSync(PYTHON)) continue;
      for (const mode of [[], ['--async']]) {
        server = await endless(powOffer('/verify'));
        try {
          const result = await python([`${server.url}/mcp`, '1', ...mode, '--max-rounds', String(maxRounds)]);
          assert.deepEqual(result.statuses, [402]);
          assert.deepEqual(count(server), expected, `Python ${mode}, max_rounds ${maxRounds}`);
        } finally {
          await server.close();
        }
      }
    }
  });

  test('pays at most max rounds of invoices per call', async () => {
    const caps = { maxSatsPerInvoice: 250_000, maxSatsTotal: 10_000_000 };
    let server = await endless(l402Offer(INVOICE, '/verify'));
    try {
      const wallet = fakeWallet();
      await settles(post(gatehouseFetch({ wallet, maxRounds: 3, ...caps }), `${server.url}/mcp`));
      assert.equal(wallet.paid.length, 3, 'JS');
      assert.deepEqual(count(server), { calls: 4, redemptions: 3 });
    } finally {
      await server.close();
    }
    if (!existsSync(PYTHON)) return;
    for (const mode of [[], ['--async']]) {
      server = await endless(l402Offer(INVOICE, '/verify'));
      try {
        const result = await python([`${server.url}/mcp`, '1', ...mode, '--fake-wallet', '--max-rounds', '3', '--max-sats-per-invoice', '250000', '--max-sats-total', '10000000']);
        assert.equal(result.paid, 3, `Python ${mode}`);
        assert.deepEqual(count(server), { calls: 4, redemptions: 3 });
      } finally {
        await server.close();
      }
    }
  });
});
