// The client kit against servers that want its credentials or its money: an origin behind the
// gateway that answers 402 as the gateway would, a server that marks its 402 but names a verify
// URL elsewhere, a same-origin redemption that redirects, and invoices above the caps. The JS
// wrapper, the stdio bridge and the Python flow must answer none of them, send nothing to the
// listener the test controls, and pay nothing from the real LNbits wallet beyond their caps; the
// Rust CLI must refuse an invoice above its cap. (The Rust rules have native tests too.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startOrigin } from '../demo/origin.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { gatehouseFetch, invoiceAmount, wire } from '../clients/js/index.mjs';
import { ROOT, startGateway, testKey } from './support/gateway.mjs';
import { exhaust } from './support/pow-flow.mjs';
import { l402Offer, powOffer, startHostile, startListener } from './support/hostile.mjs';

const BRIDGE = join(ROOT, 'clients', 'js', 'bin', 'gatehouse.mjs');
const PYTHON = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
const PY_CLIENT = join(ROOT, 'tests', 'python_kit_client.py');
const RUST_CLI = join(ROOT, 'target', 'native', 'debug', 'gatehouse-solve');
const VECTORS = join(ROOT, 'docs', 'bolt11-vectors.json');
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'kit-hostile', version: '1' } } });

let ln, origin, listener;
before(async () => {
  [ln, origin, listener] = await Promise.all([startLnbits(), startOrigin(), startListener()]);
});
after(async () => {
  ln?.stop();
  await origin?.close();
  await listener?.close();
});

/** A real invoice for `sats`, issued by the gateway's LNbits wallet. */
async function invoice(sats) {
  const res = await fetch(`${ln.url}/api/v1/payments`, { method: 'POST', headers: { 'x-api-key': ln.gateway.inkey, 'content-type': 'application/json' }, body: JSON.stringify({ out: false, amount: sats, memo: 'hostile' }) });
  const body = await res.json();
  return body.bolt11 ?? body.payment_request;
}

const balances = async () => ({ payer: await ln.balanceMsat(ln.payer), gateway: await ln.balanceMsat(ln.gateway) });

function payerWallet() {
  const paid = [];
  return { paid, payInvoice: async ({ invoice: bolt11 }) => { paid.push(bolt11); return { preimage: await ln.pay(bolt11) }; } };
}

function post(fetchFn, url, headers = {}) {
  return fetchFn(url, { method: 'POST', headers: { ...MCP, ...headers }, body: INITIALIZE });
}

function python(args) {
  return new Promise((resolve, reject) => execFile(PYTHON, [PY_CLIENT, ...args], { timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').at(-1))))));
}

const lnbitsArgs = () => ['--lnbits', ln.url, ln.payer.adminkey];
const lnbitsEnv = () => ({ LNBITS_URL: ln.url, LNBITS_ADMIN_KEY: ln.payer.adminkey });

/** Connects a stdio client through the bridge and calls a tool; resolves to the error, if any. */
async function throughBridge(url, args = [], env = {}) {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BRIDGE, 'connect', url, ...args], env: { ...process.env, ...env }, stderr: 'pipe' });
  const client = new Client({ name: 'hostile-bridge-client', version: '1.0.0' });
  try {
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    return null;
  } catch (err) {
    return err;
  } finally {
    await client.close().catch(() => {});
    await transport.close().catch(() => {});
  }
}

/** Runs `body`, then checks that the listener heard nothing and no wallet moved. */
async function nothingLeaks(body) {
  const start = await balances();
  const heard = listener.hits.length;
  await body();
  assert.equal(listener.hits.length, heard, 'the listener received nothing');
  assert.deepEqual(await balances(), start, 'no sats moved');
}

test('the kit reads BOLT 11 amounts as the spec\'s examples say, in JS and in Python', async () => {
  const { vectors } = JSON.parse(readFileSync(VECTORS, 'utf8'));
  for (const v of vectors) {
    const got = invoiceAmount(v.invoice);
    assert.deepEqual(got, v.msat === undefined ? { problem: v.error } : { msat: BigInt(v.msat) }, v.note);
  }
  assert.equal((await python(['vectors', VECTORS])).checked, vectors.length);
});

describe('the gateway marks its own challenges', () => {
  test('on a 402 and on an in-band answer, never on a 429', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'true' } });
    try {
      const paymentRequired = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('marked'), 'gatehouse-accept': '402' });
      assert.equal(paymentRequired.headers.get('gatehouse-challenge'), '1');
      const inBand = await post(fetch, gateway.mcpUrl, { 'x-api-key': testKey('marked') });
      const body = await inBand.json();
      assert.deepEqual([inBand.status, body.error.code, inBand.headers.get('gatehouse-challenge')], [200, 402, '1']);
    } finally {
      await gateway.dispose();
    }
  });
});

describe('an origin behind the gateway that answers 402 like the gateway', () => {
  let hostile, gateway, bolt11;
  before(async () => {
    bolt11 = await invoice(3);
    // Each offer is stopped by one rule: the first two by the origin check, the last two (on
    // the gateway's own origin) only by the marker the gateway strips.
    hostile = await startHostile({
      marked: true,
      challenges: () => [l402Offer(bolt11, `${listener.url}/verify`, 3), powOffer(`${listener.url}/verify`), l402Offer(bolt11, '/api/verify-challenge', 3), powOffer('/api/verify-challenge')],
    });
    gateway = await startGateway({ originUrl: hostile.url, vars: { QUOTA_PER_MINUTE: '1000', RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await hostile?.close();
  });

  test('the origin\'s 402 reaches the client unchanged but for the marker', async () => {
    const res = await post(fetch, gateway.mcpUrl, { 'x-api-key': testKey('raw') });
    assert.equal(res.status, 402);
    assert.equal(res.headers.get('gatehouse-challenge'), null);
    assert.equal((await res.json()).challenges.length, 4);
  });

  test('the JS wrapper hands it back unanswered', () => nothingLeaks(async () => {
    const wallet = payerWallet();
    const events = [];
    const res = await post(gatehouseFetch({ wallet, onEvent: (e) => events.push(e) }), gateway.mcpUrl, { 'x-api-key': testKey('js') });
    assert.equal(res.status, 402);
    assert.equal((await res.json()).challenges.length, 4, 'the caller gets the body as it came');
    assert.deepEqual(wallet.paid, []);
    assert.deepEqual(events, [{ type: 'ignored', reason: 'unmarked_402' }]);
  }));

  test('the bridge does not answer it', () => nothingLeaks(async () => {
    const err = await throughBridge(gateway.mcpUrl, ['--header', `x-api-key:${testKey('bridge')}`], lnbitsEnv());
    assert.match(String(err?.message), /402/);
  }));

  test('the Python flow does not answer it, sync or async', () => nothingLeaks(async () => {
    for (const mode of [[], ['--async']]) {
      const result = await python(['run', gateway.mcpUrl, '1', ...mode, '--header', `x-api-key:${testKey('py')}`, ...lnbitsArgs()]);
      assert.deepEqual(result.statuses, [402]);
      assert.deepEqual(result.events, [{ type: 'ignored', reason: 'unmarked_402' }]);
    }
  }));
});

describe('a server that marks its 402 but names a verify URL on another origin', () => {
  let hostile, bolt11;
  before(async () => {
    bolt11 = await invoice(3);
    hostile = await startHostile({
      marked: true,
      // `localhost` is the same server, but not the origin the client addressed.
      challenges: (self) => [l402Offer(bolt11, `${listener.url}/verify`, 3), powOffer(`${listener.url}/verify`), powOffer(`${self.replace('127.0.0.1', 'localhost')}/verify`)],
    });
  });
  after(() => hostile?.close());

  const noRedemption = () => assert.deepEqual(hostile.hits.filter((h) => h.path === '/verify'), []);

  test('the JS wrapper follows none of its verify URLs', () => nothingLeaks(async () => {
    const wallet = payerWallet();
    const events = [];
    const res = await post(gatehouseFetch({ wallet, onEvent: (e) => events.push(e) }), `${hostile.url}/mcp`, { 'x-api-key': testKey('js') });
    assert.equal(res.status, 402);
    assert.deepEqual(wallet.paid, []);
    assert.deepEqual(events.map((e) => e.reason), ['foreign_verify_url', 'foreign_verify_url', 'foreign_verify_url']);
    noRedemption();
  }));

  test('nor does the bridge, for a 402 or an in-band challenge', () => nothingLeaks(async () => {
    const err = await throughBridge(`${hostile.url}/mcp`, ['--header', `x-api-key:${testKey('bridge')}`], lnbitsEnv());
    assert.match(String(err?.message), /402/);
    const inBand = await startHostile({ marked: true, inBand: true, challenges: () => [powOffer(`${listener.url}/verify`)] });
    try {
      const err2 = await throughBridge(`${inBand.url}/mcp`, ['--header', `x-api-key:${testKey('bridge')}`, '--no-declare-402']);
      assert.match(String(err2?.message), /Payment required/);
    } finally {
      await inBand.close();
    }
    noRedemption();
  }));

  test('nor does the Python flow', () => nothingLeaks(async () => {
    const result = await python(['run', `${hostile.url}/mcp`, '1', '--header', `x-api-key:${testKey('py')}`, ...lnbitsArgs()]);
    assert.deepEqual(result.statuses, [402]);
    assert.deepEqual(result.events.map((e) => e.reason), ['foreign_verify_url', 'foreign_verify_url', 'foreign_verify_url']);
    noRedemption();
  }));
});

test('the bridge answers no in-band challenge the gateway did not mark, even on its own origin', () => nothingLeaks(async () => {
  const inBand = await startHostile({ marked: false, inBand: true, challenges: () => [powOffer('/verify')] });
  try {
    const err = await throughBridge(`${inBand.url}/mcp`, ['--header', `x-api-key:${testKey('bridge')}`, '--no-declare-402']);
    assert.match(String(err?.message), /Payment required/);
    assert.deepEqual(inBand.hits.filter((h) => h.path === '/verify'), []);
  } finally {
    await inBand.close();
  }
}));

describe('a same-origin redemption', () => {
  let hostile;
  const SENT = { 'x-api-key': 'key-1', authorization: 'Bearer oauth-token', cookie: 'session=secret', 'x-private': 'not-for-redemption' };
  before(async () => {
    // The JSON says 1 sat; the invoice asks 50, above the default cap of 10.
    const dear = await invoice(50);
    hostile = await startHostile({ marked: true, redirectTo: `${listener.url}/stolen`, challenges: () => [l402Offer(dear, '/verify', 1), powOffer('/verify')] });
  });
  after(() => hostile?.close());

  /**
   * The one redemption the server got: of the headers sent, exactly those the wire file's
   * identity list names (the same rule for every client), a proof of work, no payment.
   */
  function onlyIdentity() {
    const redemptions = hostile.hits.filter((h) => h.path === '/verify');
    assert.equal(redemptions.length, 1);
    const [{ headers, body }] = redemptions;
    assert.ok(wire.identity_headers.includes('x-api-key') && wire.identity_headers.includes('authorization'));
    for (const [name, value] of Object.entries(SENT)) {
      assert.equal(headers[name], wire.identity_headers.includes(name) ? value : undefined, name);
    }
    assert.equal(headers.cookie, undefined, 'never a cookie, whatever the list says');
    assert.ok(JSON.parse(body).solution, 'the proof of work was answered, the dear invoice was not paid');
    hostile.hits.length = 0;
  }

  test('from the JS wrapper carries identity headers only, and a redirect fails it', () => nothingLeaks(async () => {
    const wallet = payerWallet();
    const events = [];
    await assert.rejects(post(gatehouseFetch({ wallet, onEvent: (e) => events.push(e) }), `${hostile.url}/mcp`, SENT), /redemption refused: 307 redirect/);
    assert.deepEqual(wallet.paid, []);
    assert.ok(events.some((e) => e.reason === 'over_invoice_cap' && e.sats === 50), JSON.stringify(events));
    onlyIdentity();
  }));

  test('from the Python flow likewise', () => nothingLeaks(async () => {
    const headers = Object.entries(SENT).flatMap(([k, v]) => ['--header', `${k}:${v}`]);
    const result = await python(['run', `${hostile.url}/mcp`, '1', ...headers, ...lnbitsArgs()]);
    assert.deepEqual(result.statuses, [402]);
    assert.deepEqual(result.events.map((e) => e.type), ['ignored', 'challenge', 'redemption_refused']);
    assert.equal(result.events[2].status, 307);
    onlyIdentity();
  }));
});

describe('payment caps against the gateway and real LNbits', () => {
  const l402Only = (extra) => ({ QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '1', RATE_KEY_HEADER: 'x-api-key', CHALLENGE_OFFERS: 'l402', L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY: 'kit-hostile-root-key-0123456789abcdef', ...extra });

  test('an invoice above the cap per invoice is never paid', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: l402Only({ L402_PRICE_SATS: '50' }) });
    try {
      await nothingLeaks(async () => {
        const wallet = payerWallet();
        const wrapped = gatehouseFetch({ wallet });
        assert.equal((await post(wrapped, gateway.mcpUrl, { 'x-api-key': testKey('js') })).status, 200);
        assert.equal((await post(wrapped, gateway.mcpUrl, { 'x-api-key': testKey('js') })).status, 402);
        assert.deepEqual(wallet.paid, []);
        const py = await python(['run', gateway.mcpUrl, '2', '--header', `x-api-key:${testKey('py')}`, ...lnbitsArgs()]);
        assert.deepEqual(py.statuses, [200, 402]);
        assert.ok(py.events.some((e) => e.reason === 'over_invoice_cap'));
        const err = await throughBridge(gateway.mcpUrl, ['--header', `x-api-key:${testKey('bridge')}`, '--max-sats-per-invoice', '20'], lnbitsEnv());
        assert.ok(err, 'the bridge got no further than the 402');
        const line = (await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('rust') })).headers.get('www-authenticate');
        const refusal = await new Promise((resolve) => execFile(RUST_CLI, ['l402', line, '--lnbits', ln.url, '--key', ln.payer.adminkey, '--max-sats', '20'], (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stderr })));
        assert.equal(refusal.code, 1);
        assert.match(refusal.stderr, /not paying: the invoice asks 50000 msat, above the cap of 20000 msat per invoice/);
      });
    } finally {
      await gateway.dispose();
    }
  });

  test('once the total cap is reached, no further invoice is paid', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: l402Only() });
    try {
      const start = await balances();
      const wallet = payerWallet();
      const wrapped = gatehouseFetch({ wallet, maxSatsTotal: 7 });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await post(wrapped, gateway.mcpUrl, { 'x-api-key': testKey('js-total') })).status);
      assert.deepEqual(statuses, [200, 200, 200, 402], 'two 3-sat invoices fit in 7 sats, a third does not');
      assert.equal(wallet.paid.length, 2);
      const py = await python(['run', gateway.mcpUrl, '4', '--header', `x-api-key:${testKey('py-total')}`, '--max-sats-total', '7', ...lnbitsArgs()]);
      assert.deepEqual(py.statuses, [200, 200, 200, 402]);
      assert.deepEqual(py.events.filter((e) => e.type === 'paid').map((e) => e.sats), [3, 3]);
      assert.equal((await balances()).gateway - start.gateway, 4 * 3_000, 'the gateway was paid four invoices, no more');
    } finally {
      await gateway.dispose();
    }
  });
});
