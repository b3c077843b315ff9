// x402 v2 end to end in workerd, against real parts: a local EVM chain (Hardhat's node) with an
// EIP-3009 token, the official facilitator (@x402/core + @x402/evm) over HTTP, and the official
// client (@x402/fetch) with a funded account, under the official MCP SDK. A stock client gets past
// the quota by paying per call; payments that could not pay for the request are refused with
// their reason before the facilitator sees them; a payload pays once; a facilitator that fails is
// a 503, never a 402 and never a request served unpaid.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../demo/origin.mjs';
import { gatehouseFetch, wire } from '../clients/js/index.mjs';
import { freePort, startGateway, testKey } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { JSON_RPC_CALL, exhaust } from './support/pow-flow.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { PRICE_PER_CALL, decodeHeader, encodeHeader, payer, startX402, x402Fetch } from './support/x402.mjs';

const { headers: H, errors: E } = wire;
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

let x402, origin, recording;
before(async () => {
  [x402, origin, recording] = await Promise.all([startX402(), startOrigin(), startRecordingOrigin()]);
});
after(async () => {
  await x402?.stop();
  await origin?.close();
  await recording?.close();
});

const post = (url, headers, body = JSON_RPC_CALL) => fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body });

/** A 402's PaymentRequired, from its header. */
async function required(gateway, key) {
  const res = await exhaust(gateway.mcpUrl, key);
  await res.arrayBuffer();
  return decodeHeader(res.headers.get(H.payment_required));
}

/** A PAYMENT-SIGNATURE signed by the official client for `paymentRequired` (as given). */
async function sign(account, paymentRequired) {
  return encodeHeader(await payer(account, { cap: false }).createPaymentPayload(paymentRequired));
}

describe('the x402 offer', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'true' }) });
  });
  after(() => gateway?.dispose());

  test('a 402 carries PAYMENT-REQUIRED: x402 v2, the exact scheme, priced per call', async () => {
    const res = await exhaust(gateway.mcpUrl, { 'x-api-key': testKey('offer'), 'gatehouse-accept': '402' });
    assert.equal(res.status, 402);
    const pr = decodeHeader(res.headers.get(H.payment_required));
    assert.equal(pr.x402Version, 2);
    assert.equal(pr.resource.url, gateway.mcpUrl);
    assert.equal(pr.accepts.length, 1);
    const [a] = pr.accepts;
    assert.deepEqual(
      [a.scheme, a.network, a.asset.toLowerCase(), a.payTo, a.amount, a.extra.name, a.extra.version],
      ['exact', x402.chain.network, x402.chain.token.toLowerCase(), x402.chain.payTo, String(PRICE_PER_CALL), 'Local Dollar', '2'],
    );
    const body = await res.json();
    assert.deepEqual(body.challenges.map((c) => c.type), ['x402', 'pow']);
    assert.deepEqual(body.challenges[0].accepts, pr.accepts, 'the body carries the same requirement');
    assert.match(res.headers.get(H.www_authenticate), /^PoW /, 'x402 has no WWW-Authenticate line');
  });

  test('a batch of three calls is priced at three calls', async () => {
    const key = { 'x-api-key': testKey('batch'), 'gatehouse-accept': '402' };
    await exhaust(gateway.mcpUrl, key);
    const batch = JSON.stringify([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'tools/list' })));
    const res = await post(gateway.mcpUrl, key, batch);
    assert.equal(res.status, 402);
    assert.equal(decodeHeader(res.headers.get(H.payment_required)).accepts[0].amount, String(3 * PRICE_PER_CALL));
  });

  test('an in-band answer (JSON-RPC error 402) carries the x402 requirement too', async () => {
    const key = { 'x-api-key': testKey('in-band') };
    await (await post(gateway.mcpUrl, key)).arrayBuffer();
    const res = await post(gateway.mcpUrl, key);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.error.code, wire.jsonrpc.payment_required);
    const offer = body.error.data.challenges.find((c) => c.type === 'x402');
    assert.equal(offer.x402Version, 2);
    assert.equal(offer.accepts[0].scheme, 'exact');
  });
});

describe('a stock x402 client under the official MCP SDK', () => {
  let gateway;
  before(async () => {
    // The gateway's defaults (in-band answers on): the client declares the one documented
    // header, `Gatehouse-Accept: 402`, to get the HTTP 402 that @x402/fetch pays.
    gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ QUOTA_PER_MINUTE: '60', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: undefined }) });
  });
  after(() => gateway?.dispose());

  test('200 calls past a 60/minute quota, each paid call settled on chain for exactly its price', async (t) => {
    const account = x402.chain.payers[0];
    const { payTo } = x402.chain;
    const [payerBefore, payToBefore] = await Promise.all([x402.chain.balanceOf(account.address), x402.chain.balanceOf(payTo)]);
    const paying = x402Fetch(account, x402.chain);
    const settlements = [];
    const roundTrips = [];
    // Times the whole exchange of a paid request: 402, signing, the paid request, its answer.
    const timed = async (input, init) => {
      const started = performance.now();
      const res = await paying(input, init);
      const header = res.headers.get(H.payment_response);
      if (header) {
        roundTrips.push(performance.now() - started);
        settlements.push(decodeHeader(header));
      }
      return res;
    };
    const settlesBefore = x402.facilitator.calls.settle;
    const mcp = await connect(gateway.mcpUrl, { fetch: timed, headers: { 'x-api-key': testKey('stock-client'), 'gatehouse-accept': '402' } });
    try {
      for (let i = 0; i < 200; i++) {
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
        assert.match(r.content[0].text, new RegExp(`call ${i}$`));
      }
    } finally {
      await mcp.close();
    }
    assert.ok(settlements.length >= 140, `${settlements.length} paid calls`);
    assert.equal(x402.facilitator.calls.settle - settlesBefore, settlements.length, 'each settlement told to the client');
    for (const s of settlements) {
      assert.equal(s.success, true);
      assert.equal(s.network, x402.chain.network);
      assert.equal(s.payer.toLowerCase(), account.address.toLowerCase());
    }
    assert.equal(new Set(settlements.map((s) => s.transaction)).size, settlements.length, 'one transaction per paid call');
    const receipt = await x402.chain.publicClient.getTransactionReceipt({ hash: settlements.at(-1).transaction });
    assert.equal(receipt.status, 'success');
    const charged = BigInt(settlements.length * PRICE_PER_CALL);
    const [payerAfter, payToAfter] = await Promise.all([x402.chain.balanceOf(account.address), x402.chain.balanceOf(payTo)]);
    assert.equal(payerBefore - payerAfter, charged, 'the payer paid exactly what the gateway charged');
    assert.equal(payToAfter - payToBefore, charged, 'payTo received exactly that');
    const sorted = [...roundTrips].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
    t.diagnostic(`402 -> pay -> served: median ${at(0.5)} ms, p95 ${at(0.95)} ms over ${sorted.length} paid calls`);
  });
});

describe('the JS kit with an x402 signer', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ QUOTA_PER_MINUTE: '5', RATE_KEY_HEADER: 'x-api-key' }) });
  });
  after(() => gateway?.dispose());

  test('pays per call within its caps; past its total cap it answers the next offer (a proof of work)', async () => {
    const account = x402.chain.payers[2];
    const before = await x402.chain.balanceOf(account.address);
    const events = [];
    const kit = gatehouseFetch({ x402: { signer: account, maxAtomicPerPayment: PRICE_PER_CALL, maxAtomicTotal: 10 * PRICE_PER_CALL }, onEvent: (e) => events.push(e) });
    const mcp = await connect(gateway.mcpUrl, { fetch: kit, headers: { 'x-api-key': testKey('kit') } });
    try {
      for (let i = 0; i < 30; i++) {
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message: `kit ${i}` } });
        assert.equal(r.content[0].text, `kit ${i}`);
      }
    } finally {
      await mcp.close();
    }
    const paid = events.filter((e) => e.type === 'paid' && e.kind === 'x402').length;
    assert.equal(paid, 10, 'ten payments fit the total cap');
    const capped = events.findIndex((e) => e.type === 'ignored' && e.reason === 'over_total_cap');
    assert.ok(capped > 0, 'the eleventh payment is refused by the cap');
    assert.ok(events.slice(capped).some((e) => e.type === 'solved'), 'then a proof of work is solved instead');
    assert.equal(before - (await x402.chain.balanceOf(account.address)), BigInt(10 * PRICE_PER_CALL), 'exactly ten prices paid');
  });

  test('signs nothing over its per-payment cap', async () => {
    const events = [];
    const kit = gatehouseFetch({ x402: { signer: x402.chain.payers[2], maxAtomicPerPayment: PRICE_PER_CALL - 1 }, onEvent: (e) => events.push(e) });
    const key = { 'x-api-key': testKey('kit-cap') };
    await (await exhaust(gateway.mcpUrl, key)).arrayBuffer();
    const settles = x402.facilitator.calls.settle;
    await (await kit(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON_RPC_CALL })).arrayBuffer();
    assert.ok(events.some((e) => e.type === 'ignored' && e.reason === 'over_payment_cap'));
    assert.ok(!events.some((e) => e.type === 'paid'), 'nothing paid');
    assert.equal(x402.facilitator.calls.settle, settles);
  });
});

describe('payments that cannot pay for the request', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({ originUrl: recording.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key' }) });
  });
  after(() => gateway?.dispose());

  /** A 402's requirement for `who`, changed by `change`, signed by the official client. */
  async function tampered(who, change) {
    const key = { 'x-api-key': testKey(who) };
    const pr = await required(gateway, key);
    change(pr.accepts[0]);
    return { key, header: await sign(x402.chain.payers[1], pr) };
  }

  async function refused(res, reason, status = 402) {
    const body = await res.json();
    assert.deepEqual([res.status, body.error, body.reason], [status, status === 402 ? 'payment_refused' : 'invalid_x402_payment', reason]);
    assert.equal(E[body.error], status, 'the status wire.json gives the code');
    if (status === 402) assert.equal(decodeHeader(res.headers.get(H.payment_required)).error, reason, 'offered again with the reason');
    return body;
  }

  for (const [id, name, change, reason] of [
    ['underpaid', 'underpaid', (a) => { a.amount = String(PRICE_PER_CALL - 1); }, 'invalid_exact_evm_payload_authorization_value_mismatch'],
    ['payto', 'to another payTo', (a) => { a.payTo = x402.chain.payers[2].address; }, 'invalid_exact_evm_payload_recipient_mismatch'],
    ['network', 'on another network', (a) => { a.network = 'eip155:8453'; }, 'invalid_network'],
    ['expired', 'expired (valid for one second)', (a) => { a.maxTimeoutSeconds = 1; }, 'invalid_exact_evm_payload_authorization_valid_before'],
  ]) {
    test(`a payment ${name} is refused with its reason, before the facilitator or the origin`, async () => {
      const { key, header } = await tampered(`refused-${id}`, change);
      const [verifies, seen] = [x402.facilitator.calls.verify, recording.seen.length];
      await refused(await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header }), reason);
      assert.equal(x402.facilitator.calls.verify, verifies, 'not sent to the facilitator');
      assert.equal(recording.seen.length, seen, 'not served');
    });
  }

  test('a payment the facilitator finds invalid (no funds) is refused with its reason', async () => {
    const key = { 'x-api-key': testKey('unfunded') };
    const pr = await required(gateway, key);
    const { account } = await import('../demo/x402/chain.mjs');
    const header = await sign(account(19), pr); // an account the token was never minted to
    const [verifies, seen] = [x402.facilitator.calls.verify, recording.seen.length];
    const res = await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header });
    const body = await res.json();
    assert.deepEqual([res.status, body.error], [402, 'payment_refused']);
    assert.match(body.reason, /^[a-z0-9_.-]+$/, "the facilitator's reason, sanitized");
    assert.equal(decodeHeader(res.headers.get(H.payment_required)).error, body.reason);
    assert.equal(x402.facilitator.calls.verify - verifies, 1);
    assert.equal(recording.seen.length, seen, 'not served');
  });

  test('payment attempts count toward the call ceiling, so garbage payments cannot call the facilitator without bound', async () => {
    const g = await startGateway({ originUrl: recording.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', CALL_CEILING_PER_MINUTE: '5', RATE_KEY_HEADER: 'x-api-key' }) });
    try {
      const key = { 'x-api-key': testKey('flood') };
      const pr = await required(g, key); // one admitted request: 4 calls left under the ceiling
      const { account } = await import('../demo/x402/chain.mjs');
      const [verifies, seen] = [x402.facilitator.calls.verify, recording.seen.length];
      const statuses = [];
      for (let i = 0; i < 8; i++) {
        const header = await sign(account(19), pr); // unfunded: refused by the facilitator
        const res = await post(g.mcpUrl, { ...key, [H.payment_signature]: header });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      assert.deepEqual(statuses, [402, 402, 402, 402, 429, 429, 429, 429]);
      assert.equal(x402.facilitator.calls.verify - verifies, 4, 'the facilitator is asked only within the ceiling');
      assert.equal(recording.seen.length, seen, 'nothing served');
      const rows = await g.db.prepare('SELECT COUNT(*) AS n FROM x402_payments').first();
      assert.equal(rows.n, 0, 'refused claims leave no rows');
    } finally {
      await g.dispose();
    }
  });

  test('a header that is not a payment is 400', async () => {
    await refused(await post(gateway.mcpUrl, { 'x-api-key': testKey('malformed'), [H.payment_signature]: 'bm90IGpzb24=' }), 'invalid_payload', 400);
  });

  test('a payment pays once: replayed after use, and replayed concurrently', async () => {
    const key = { 'x-api-key': testKey('replay') };
    const account = x402.chain.payers[1];
    const header = await sign(account, await required(gateway, key));
    const before = await x402.chain.balanceOf(account.address);
    const first = await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header });
    assert.equal(first.status, 200);
    assert.ok(first.headers.get(H.payment_response));
    assert.equal(recording.seen.at(-1).headers[H.payment_signature], undefined, 'the payment never reaches the origin');
    await refused(await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header }), 'payment_already_used');

    const fresh = await sign(account, await required(gateway, key));
    const [verifies, settles, seen] = [x402.facilitator.calls.verify, x402.facilitator.calls.settle, recording.seen.length];
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(gateway.mcpUrl, { ...key, [H.payment_signature]: fresh })));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 402, 402, 402, 402, 402], 'exactly one copy is served');
    for (const r of answers.filter((a) => a.status === 402)) await refused(r, 'payment_already_used');
    assert.equal(recording.seen.length - seen, 1, 'the origin saw one request');
    assert.deepEqual([x402.facilitator.calls.verify - verifies, x402.facilitator.calls.settle - settles], [1, 1]);
    assert.equal(before - (await x402.chain.balanceOf(account.address)), BigInt(2 * PRICE_PER_CALL), 'two payments, two prices');
  });
});

describe('a facilitator that fails', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway({ originUrl: recording.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', X402_FACILITATOR_TIMEOUT_MS: '500' }) });
  });
  after(() => {
    x402.facilitator.faults.verify = 'ok';
    x402.facilitator.faults.settle = 'ok';
    return gateway?.dispose();
  });

  async function unavailable(res) {
    const body = await res.json();
    assert.deepEqual([res.status, body.error], [503, 'temporarily_unavailable']);
    assert.ok(Number(res.headers.get(H.retry_after)) > 0, 'Retry-After');
    assert.equal(res.headers.get(H.payment_response), null);
  }

  for (const fault of ['error', 'hang']) {
    test(`at /verify (${fault}) is a 503 with Retry-After; the payment works once it is back`, async () => {
      const key = { 'x-api-key': testKey(`verify-${fault}`) };
      const header = await sign(x402.chain.payers[1], await required(gateway, key));
      const seen = recording.seen.length;
      x402.facilitator.faults.verify = fault;
      await unavailable(await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header }));
      assert.equal(recording.seen.length, seen, 'not served');
      x402.facilitator.faults.verify = 'ok';
      const res = await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header });
      assert.equal(res.status, 200, `the claim was given back: ${await res.clone().text()}`);
    });
  }

  test('at /settle is a 503, and the answer is not served', async () => {
    const key = { 'x-api-key': testKey('settle-error') };
    const account = x402.chain.payers[1];
    const header = await sign(account, await required(gateway, key));
    const before = await x402.chain.balanceOf(account.address);
    x402.facilitator.faults.settle = 'error';
    const res = await post(gateway.mcpUrl, { ...key, [H.payment_signature]: header });
    await unavailable(res);
    assert.equal(await x402.chain.balanceOf(account.address), before, 'nothing was charged');
  });

  test('down altogether is a 503', async () => {
    const down = await startGateway({ originUrl: recording.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', X402_FACILITATOR_URL: `http://127.0.0.1:${await freePort()}` }) });
    try {
      const key = { 'x-api-key': testKey('down') };
      const header = await sign(x402.chain.payers[1], await required(down, key));
      await unavailable(await post(down.mcpUrl, { ...key, [H.payment_signature]: header }));
    } finally {
      await down.dispose();
    }
  });
});
