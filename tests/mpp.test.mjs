// MPP, the HTTP `Payment` scheme (draft-ryan-httpauth-payment) with the `evm` method's `charge`
// intent, end to end in workerd with the local chain and the official x402 facilitator, paid by
// the stock client `mppx` (0.11.0) as its authors ship it: its fetch wrapper over HTTP (it sends
// `Accept-Payment`, so it gets the HTTP 402), and `McpClient.wrap` around the official MCP SDK
// client inside MCP (the in-band answer's `_meta["org.paymentauth/payment-required"]`). Then the
// draft's rules, attacked: binding, expiry, body digest, replay, problem details.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Mppx, evm } from 'mppx-client/client';
import { McpClient } from 'mppx-client/mcp/client';
import { startOrigin } from '../demo/origin.mjs';
import { TOKEN_NAME, TOKEN_VERSION } from '../demo/x402/chain.mjs';
import { startGateway, testKey } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { PRICE_PER_CALL, startX402 } from './support/x402.mjs';

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
const evmCharge = (account) => evm.charge({ account, authorization: { name: TOKEN_NAME, version: TOKEN_VERSION } });

let x402;
before(async () => { x402 = await startX402({ payers: 3 }); });
after(async () => x402?.stop());

/** The payer's and the recipient's balances, to compare before and after. */
const balances = (account) => Promise.all([x402.chain.balanceOf(account.address), x402.chain.balanceOf(x402.chain.payTo)]);

async function chainMoved(account, before, receipts) {
  const after = await balances(account);
  const charged = BigInt(receipts * PRICE_PER_CALL);
  assert.equal(before[0] - after[0], charged, 'the payer paid exactly what the gateway charged');
  assert.equal(after[1] - before[1], charged, 'the recipient received exactly that');
}

describe('mppx over HTTP, its fetch wrapper under the official MCP SDK', () => {
  let origin, gateway;
  before(async () => {
    origin = await startOrigin();
    // The gateway's defaults, offering MPP beside x402 on the same rail.
    gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ CHALLENGE_OFFERS: 'x402,mpp,pow', QUOTA_PER_MINUTE: '3', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: undefined }) });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('every call past the quota is paid once with a Payment credential and served with its receipt', { timeout: 120_000 }, async () => {
    const account = x402.chain.payers[0];
    const start = await balances(account);
    const seen = [];
    // Records the wire under mppx (the requests it makes, the answers it gets), changing nothing.
    const recording = async (input, init) => {
      const res = await fetch(input, init);
      const headers = new Headers(init?.headers);
      seen.push({ status: res.status, acceptPayment: headers.get('accept-payment'), credential: headers.get('authorization'), challenge: res.headers.get('www-authenticate'), receipt: res.headers.get('payment-receipt'), problem: res.headers.get('content-type')?.startsWith('application/problem+json') });
      return res;
    };
    const mppx = Mppx.create({ methods: [evmCharge(account)], polyfill: false, fetch: recording });
    const mcp = await connect(gateway.mcpUrl, { fetch: mppx.fetch, headers: { 'x-api-key': testKey('mppx-http') } });
    try {
      for (let i = 0; i < 8; i++) {
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
        assert.match(r.content[0].text, new RegExp(`call ${i}$`));
        assert.notEqual(r.isError, true);
      }
    } finally {
      await mcp.close();
    }
    const refused = seen.filter((s) => s.status === 402);
    const paid = seen.filter((s) => s.credential?.startsWith('Payment '));
    const receipts = seen.filter((s) => s.receipt).map((s) => b64json(s.receipt));
    assert.ok(paid.length >= 6, `${paid.length} paid requests`);
    assert.equal(refused.length, paid.length, 'one 402 per payment, none after one');
    assert.equal(receipts.length, paid.length, 'every paid request answered with its receipt');
    assert.ok(seen.every((s) => s.acceptPayment === 'evm/charge'), 'mppx declares what it pays');
    assert.ok(refused.every((s) => /(^|, )Payment id="/.test(s.challenge)), 'the 402 carries the Payment challenge');
    for (const r of receipts) {
      assert.equal(r.method, 'evm');
      assert.equal(r.status, 'success');
      assert.match(r.reference, /^0x[0-9a-f]{64}$/);
    }
    assert.equal(new Set(receipts.map((r) => r.reference)).size, receipts.length, 'one transaction per paid call');
    const tx = await x402.chain.publicClient.getTransactionReceipt({ hash: receipts.at(-1).reference });
    assert.equal(tx.status, 'success');
    await chainMoved(account, start, receipts.length);
  });
});

describe('mppx inside MCP: McpClient.wrap around the official MCP SDK client', () => {
  let origin, gateway;
  before(async () => {
    origin = await startOrigin();
    gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ CHALLENGE_OFFERS: 'x402,mpp,pow', QUOTA_PER_MINUTE: '3', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: undefined }) });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('a stock client wrapped by mppx pays each refused tool call in _meta and gets the receipt there', { timeout: 120_000 }, async () => {
    const account = x402.chain.payers[1];
    const start = await balances(account);
    const statuses = [];
    const watching = async (input, init) => {
      const res = await fetch(input, init);
      statuses.push(res.status);
      return res;
    };
    const mcp = await connect(gateway.mcpUrl, { fetch: watching, headers: { 'x-api-key': testKey('mppx-mcp') } });
    const client = McpClient.wrap(mcp.client, { methods: [evmCharge(account)] });
    const receipts = [];
    try {
      for (let i = 0; i < 8; i++) {
        const r = await client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
        assert.match(r.content[0].text, new RegExp(`call ${i}$`));
        if (r.receipt) receipts.push(r.receipt);
      }
    } finally {
      await mcp.close();
    }
    assert.ok(receipts.length >= 5, `${receipts.length} paid calls`);
    assert.ok(statuses.every((s) => s < 300), 'no HTTP error: every answer was inside MCP');
    for (const r of receipts) {
      assert.equal(r.method, 'evm');
      assert.equal(r.status, 'success');
      assert.ok(r.challengeId);
    }
    assert.equal(new Set(receipts.map((r) => r.reference)).size, receipts.length);
    await chainMoved(account, start, receipts.length);
  });
});

describe('the draft\'s rules, attacked', () => {
  let recording, gateway, mppx;
  const key = { 'x-api-key': testKey('mpp-attacker') };
  const call = (id, message = 'm') => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });
  const post = async (body, headers = {}) => {
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key, ...headers }, body });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  /** A 402's Payment challenge for `body`, and a credential mppx signs for it. */
  const pay = async (body) => {
    const refused = await post(body, { 'accept-payment': 'evm/charge' });
    assert.equal(refused.status, 402);
    let credential;
    const capture = async (input, init) => {
      credential = new Headers(init?.headers).get('authorization');
      return credential ? new Response('{}', { status: 200 }) : new Response(refused.text, { status: 402, headers: refused.headers });
    };
    const signer = Mppx.create({ methods: [evmCharge(x402.chain.payers[2])], polyfill: false, fetch: capture });
    await signer.fetch(gateway.mcpUrl, { method: 'POST', headers: MCP, body });
    return credential;
  };
  before(async () => {
    recording = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: recording.url, vars: x402.vars({ CHALLENGE_OFFERS: 'x402,mpp,pow', QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: undefined }) });
    mppx = { pay };
    await post(call(0));
  });
  after(async () => {
    await gateway?.dispose();
    await recording?.close();
  });

  test('a credential pays once: the replay is a 402 problem with a fresh challenge, and the origin sees neither the credential nor the replay', async () => {
    const body = call(1, 'once');
    const credential = await mppx.pay(body);
    const served = await post(body, { authorization: credential });
    assert.equal(served.status, 200, served.text);
    assert.ok(served.headers.get('payment-receipt'));
    const replay = await post(body, { authorization: credential });
    assert.equal(replay.status, 402);
    assert.match(replay.headers.get('content-type'), /^application\/problem\+json/);
    const problem = JSON.parse(replay.text);
    assert.equal(problem.type, 'https://paymentauth.org/problems/verification-failed');
    assert.equal(problem.reason, 'payment_already_used');
    assert.match(replay.headers.get('www-authenticate'), new RegExp(`Payment id="${problem.challengeId}"`));
    const reached = recording.seen.filter((s) => s.raw.includes('once'));
    assert.equal(reached.length, 1, 'the origin ran the call once');
    assert.equal(reached[0].headers.authorization, undefined, 'the credential stopped at the gateway');
  });

  test('a challenge bound to one body does not pay for another, nor for a dearer call', async () => {
    const credential = await mppx.pay(call(2, 'cheap'));
    const other = await post(call(2, 'swapped'), { authorization: credential });
    assert.equal(other.status, 402);
    assert.equal(JSON.parse(other.text).type, 'https://paymentauth.org/problems/invalid-challenge');
    const batch = JSON.stringify([JSON.parse(call(3, 'a')), JSON.parse(call(4, 'b'))]);
    const dearer = await post(batch, { authorization: credential });
    assert.equal(dearer.status, 402);
    assert.equal(JSON.parse(dearer.text).type, 'https://paymentauth.org/problems/invalid-challenge');
    assert.equal(recording.seen.filter((s) => /swapped|"a"/.test(s.raw)).length, 0);
  });

  test('a changed parameter, a dropped expiry or a foreign id is an invalid challenge; a malformed credential is a problem too', async () => {
    const body = call(5, 'tampered');
    const credential = await mppx.pay(body);
    const decoded = b64json(credential.slice('Payment '.length));
    const resend = (c) => post(body, { authorization: `Payment ${Buffer.from(JSON.stringify(c)).toString('base64url')}` });
    for (const change of [
      (c) => { c.challenge.expires = '2099-01-01T00:00:00.000Z'; },
      (c) => { delete c.challenge.expires; },
      (c) => { c.challenge.realm = 'elsewhere.example'; },
      (c) => { c.challenge.id = `${c.challenge.id[0] === 'x' ? 'y' : 'x'}${c.challenge.id.slice(1)}`; },
    ]) {
      const c = structuredClone(decoded);
      change(c);
      const r = await resend(c);
      assert.equal(r.status, 402);
      assert.equal(JSON.parse(r.text).type, 'https://paymentauth.org/problems/invalid-challenge', JSON.stringify(c.challenge));
    }
    const malformed = await post(body, { authorization: 'Payment not-json' });
    assert.equal(malformed.status, 402);
    assert.equal(JSON.parse(malformed.text).type, 'https://paymentauth.org/problems/malformed-credential');
    const tooLong = await post(body, { authorization: `Payment ${'A'.repeat(9_000)}` });
    assert.equal(JSON.parse(tooLong.text).type, 'https://paymentauth.org/problems/malformed-credential');
    assert.equal(recording.seen.filter((s) => s.raw.includes('tampered')).length, 0, 'the origin saw none of them');
    // The untouched credential still pays: nothing above spent it.
    assert.equal((await post(body, { authorization: credential })).status, 200);
  });

  test('a settlement the facilitator refuses is a 402 problem with a fresh challenge, over HTTP and inside MCP', async () => {
    x402.facilitator.faults.settle = 'refuse';
    try {
      const body = call(8, 'refused at settle');
      const credential = await mppx.pay(body);
      const refused = await post(body, { authorization: credential });
      assert.equal(refused.status, 402, refused.text);
      const problem = JSON.parse(refused.text);
      assert.equal(problem.type, 'https://paymentauth.org/problems/verification-failed');
      assert.equal(problem.reason, 'insufficient_funds');
      assert.match(refused.headers.get('www-authenticate'), new RegExp(`Payment id="${problem.challengeId}"`));
      // Inside MCP: the same refusal as a tool result that carries the fresh challenge.
      const inBand = JSON.parse((await post(call(9, 'refused in-band'))).text).result;
      const challenge = inBand._meta['org.paymentauth/payment-required'].challenges[0];
      const decoded = b64json((await mppx.pay(call(10, 'x'))).slice('Payment '.length));
      const withMeta = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { message: 'refused in-band' }, _meta: { 'org.paymentauth/credential': { ...decoded, challenge: { ...challenge } } } } });
      const r = await post(withMeta);
      assert.equal(r.status, 200, r.text);
      const result = JSON.parse(r.text).result;
      assert.equal(result.isError, true);
      assert.ok(result._meta['org.paymentauth/payment-required'].challenges[0].id);
    } finally {
      x402.facilitator.faults.settle = 'ok';
    }
    assert.equal(recording.seen.filter((s) => s.raw.includes('refused')).length, 0, 'the origin worked for no money');
  });

  test('a credential inside MCP is cut from the bytes, and its refusal is a tool result with a fresh challenge', async () => {
    const refused = await post(call(6, 'in-band'));
    assert.equal(refused.status, 200);
    const result = JSON.parse(refused.text).result;
    const challenge = result._meta['org.paymentauth/payment-required'].challenges[0];
    assert.equal(challenge.method, 'evm');
    assert.equal(challenge.digest, undefined, 'inside MCP a challenge binds no body');
    const credential = { challenge, payload: { type: 'authorization', from: x402.chain.payers[2].address, to: x402.chain.payTo, value: '1', validAfter: '0', validBefore: '1', nonce: `0x${'00'.repeat(32)}`, signature: '0x00' } };
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'in-band' }, _meta: { 'org.paymentauth/credential': credential } } });
    const underpaid = JSON.parse((await post(body)).text).result;
    assert.equal(underpaid.isError, true);
    assert.ok(underpaid._meta['org.paymentauth/payment-required'].challenges[0].id);
    assert.equal(underpaid._meta['org.paymentauth/payment-required'].problem.type, 'https://paymentauth.org/problems/payment-insufficient');
    assert.equal(recording.seen.filter((s) => s.raw.includes('in-band')).length, 0);
  });
});
