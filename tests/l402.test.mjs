// L402 end to end against a real LNbits (FakeWallet): the gateway's wallet issues real BOLT11
// invoices, a second wallet pays them, and third-party L402 clients pay through the gateway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Lsat } from 'lsat-js';
import * as MacaroonLib from 'macaroon';
import { fetchWithL402 } from '@getalby/lightning-tools/402/l402';
import { Invoice } from '@getalby/lightning-tools/bolt11';
import { startOrigin } from '../demo/origin.mjs';
import { gatehouseFetch } from '../clients/js/index.mjs';
import { ROOT, startGateway, testKey } from './support/gateway.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { connect } from './support/mcp.mjs';
import { exhaust, redeem } from './support/pow-flow.mjs';

const ROOT_KEY = 'l402-root-key-0123456789abcdef0123456789';
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'l402-test', version: '1' } } });
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

let ln, origin;
before(async () => {
  [ln, origin] = await Promise.all([startLnbits(), startOrigin()]);
});
after(async () => {
  ln?.stop();
  await origin?.close();
});

const l402Vars = (extra = {}) => ({
  QUOTA_PER_MINUTE: '1',
  RATE_KEY_HEADER: 'x-api-key',
  CHALLENGE_OFFERS: 'l402,pow',
  L402_BACKEND_URL: ln.url,
  L402_BACKEND_KEY: ln.gateway.inkey,
  L402_ROOT_KEY: ROOT_KEY,
  ...extra,
});

/** The L402 line of a 402 (fetch joins repeated WWW-Authenticate fields with ", "). */
const l402Line = (res) => res.headers.get('www-authenticate').split(', PoW ')[0];

describe('the gateway as an L402 server', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({ originUrl: origin.url, vars: l402Vars() });
  });
  after(async () => gateway?.dispose());

  test('at quota it offers L402 first, then proof of work, with a real invoice', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('offers') });
    const lines = res.headers.get('www-authenticate');
    assert.match(lines, /^L402 macaroon="[A-Za-z0-9+/=]+", invoice="lnbc[0-9a-z]+", PoW challenge_id="[0-9a-f]{32}"/);
    const body = await res.json();
    assert.deepEqual(body.challenges.map((c) => c.type), ['l402', 'pow']);
    const [l402] = body.challenges;
    assert.equal(l402.amount_sats, 3);
    const decoded = new Invoice({ pr: l402.invoice });
    assert.equal(decoded.satoshi, 3);
    assert.equal(decoded.paymentHash, l402.payment_hash);
  });

  test('lsat-js decodes the macaroon and finds the invoice\'s payment hash', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('lsat-js') });
    const [l402] = (await res.clone().json()).challenges;
    const lsat = Lsat.fromChallenge(l402Line(res));
    assert.equal(lsat.paymentHash, l402.payment_hash);
    assert.equal(lsat.invoice, l402.invoice);
    const caveats = MacaroonLib.importMacaroon(l402.macaroon)._exportAsJSONObjectV2().c.map((c) => c.i);
    assert.deepEqual(caveats.slice(0, 2), ['services=gatehouse:0', 'gatehouse_capabilities=mcp']);
    assert.match(caveats[2], /^gatehouse_valid_until=\d+$/);
  });

  test('a paid credential gets through, as L402 and as LSAT, and the gateway\'s wallet is paid', async () => {
    const before = await ln.balanceMsat(ln.gateway);
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('payer') });
    const [l402] = (await res.json()).challenges;
    const preimage = await ln.pay(l402.invoice);
    assert.equal(await ln.balanceMsat(ln.gateway) - before, 3_000);
    for (const scheme of ['L402', 'LSAT']) {
      const ok = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `${scheme} ${l402.macaroon}:${preimage}` }, body: INITIALIZE });
      assert.equal(ok.status, 200, scheme);
      assert.match(ok.headers.get('ratelimit'), /^"token";r=\d+;t=\d+$/);
    }
  });

  test('an unpaid, wrong or tampered credential never gets through', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('forger') });
    const [l402] = (await res.json()).challenges;
    const call = (authorization) => fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization }, body: INITIALIZE });
    const unpaid = await call(`L402 ${l402.macaroon}:${'00'.repeat(32)}`);
    assert.equal(unpaid.status, 401);
    assert.deepEqual(await unpaid.json().then((b) => [b.error, b.reason]), ['invalid_l402_credential', 'wrong_preimage']);

    const preimage = await ln.pay(l402.invoice);
    const raw = Buffer.from(l402.macaroon, 'base64');
    raw[raw.length - 1] ^= 1; // flip a bit of the signature
    const tampered = await call(`L402 ${raw.toString('base64')}:${preimage}`);
    assert.equal((await tampered.json()).reason, 'bad_signature');

    // A holder may attenuate a macaroon with a real macaroon library; an expiry in the past binds.
    const mac = MacaroonLib.importMacaroon(l402.macaroon);
    mac.addFirstPartyCaveat(new TextEncoder().encode('gatehouse_valid_until=1000'));
    const expired = await call(`L402 ${Buffer.from(mac.exportBinary()).toString('base64')}:${preimage}`);
    assert.deepEqual(await expired.json().then((b) => [expired.status, b.reason]), [401, 'expired']);

    const genuine = await call(`L402 ${l402.macaroon}:${preimage}`);
    assert.equal(genuine.status, 200);
  });

  test('the redemption endpoint trades a preimage for a token, once', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('redeemer') });
    const [l402] = (await res.json()).challenges;
    const wrong = await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage: 'ab'.repeat(32) } }, { 'x-api-key': testKey('redeemer') });
    assert.deepEqual([wrong.status, wrong.body.error], [400, 'invalid_solution']);
    const preimage = await ln.pay(l402.invoice);
    const first = await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage } }, { 'x-api-key': testKey('redeemer') });
    assert.equal(first.status, 200);
    const again = await redeem(l402.verify_url, { challenge_id: l402.challenge_id, payment_proof: { preimage } }, { 'x-api-key': testKey('redeemer') });
    assert.equal(again.status, 409);
    const ok = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('redeemer'), 'x-access-token': first.body.access_token }, body: INITIALIZE });
    assert.equal(ok.status, 200);
  });

  test('@getalby/lightning-tools fetchWithL402 pays through the gateway to the origin', async () => {
    await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('alby') });
    let paid = 0;
    const wallet = { payInvoice: async ({ invoice }) => { paid++; return { preimage: await ln.pay(invoice) }; } };
    const res = await fetchWithL402(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('alby') }, body: INITIALIZE }, { wallet });
    assert.equal(paid, 1);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('mcp-session-id'), 'the origin opened a session');
  });

  test('l402-requests (PyPI) pays through the gateway to the origin', async () => {
    const python = join(ROOT, '.tools', 'lnbits', 'bin', 'python');
    const out = await new Promise((resolve, reject) => execFile(python, [join(ROOT, 'tests', 'l402_requests_client.py'), gateway.mcpUrl, ln.url, ln.payer.adminkey], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout))));
    const result = JSON.parse(out);
    assert.equal(result.paid, 1);
    assert.equal(result.statuses.at(-1), 200);
    assert.ok(result.session);
  });

  test('the Rust kit pays an L402 challenge from LNbits and its credential gets through', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('rust-kit') });
    const cli = join(ROOT, 'target', 'native', 'debug', 'gatehouse-solve');
    const authorization = await new Promise((resolve, reject) => execFile(cli, ['l402', l402Line(res), '--lnbits', ln.url, '--key', ln.payer.adminkey], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))));
    assert.match(authorization, /^L402 [A-Za-z0-9+/=]+:[0-9a-f]{64}$/);
    const ok = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization }, body: INITIALIZE });
    assert.equal(ok.status, 200);
  });

  test('the JS wrapper pays with a wallet and a stock SDK client keeps working', async () => {
    const events = [];
    const wallet = { payInvoice: async ({ invoice }) => ({ preimage: await ln.pay(invoice) }) };
    const { client, close } = await connect(gateway.mcpUrl, { fetch: gatehouseFetch({ wallet, onEvent: (e) => events.push(e) }), headers: { 'x-api-key': testKey('sdk-l402') } });
    for (let i = 0; i < 5; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { message: `paid ${i}` } });
      assert.equal(r.content[0].text, `paid ${i}`);
    }
    await close();
    assert.ok(events.some((e) => e.type === 'paid'), 'it paid an invoice');
  });
});

describe('when the Lightning backend is down', () => {
  const dead = 'http://127.0.0.1:9';
  test('proof of work is still offered when enabled', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: l402Vars({ L402_BACKEND_URL: dead }) });
    try {
      const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('down') });
      assert.deepEqual((await res.json()).challenges.map((c) => c.type), ['pow']);
      assert.match(res.headers.get('www-authenticate'), /^PoW /);
    } finally {
      await gateway.dispose();
    }
  });

  test('with L402 alone it is a 503 with Retry-After, never a 402 or a 500', async () => {
    const gateway = await startGateway({ originUrl: origin.url, vars: l402Vars({ L402_BACKEND_URL: dead, CHALLENGE_OFFERS: 'l402' }) });
    try {
      await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('down') }, body: INITIALIZE });
      const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('down') }, body: INITIALIZE });
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
    } finally {
      await gateway.dispose();
    }
  });
});
