// x402 carried inside MCP (coinbase/x402 specs/transports-v2/mcp.md), end to end in workerd with
// the local chain and the official facilitator: the official Python x402 MCP client on the
// official Python MCP SDK pays refused tool calls in `_meta["x402/payment"]` and gets each one
// served with `_meta["x402/payment-response"]`; the payment is cut from the bytes before the
// origin; the object and base64 forms both pay; refusals come back as isError tool results; the
// receipt reaches JSON and SSE answers alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { startOrigin } from '../demo/origin.mjs';
import { ROOT, startGateway, testKey } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { PRICE_PER_CALL, decodeHeader, encodeHeader, payer, startX402 } from './support/x402.mjs';

const PYTHON = join(ROOT, '.tools', 'x402py', 'bin', 'python');
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const privateKey = (account) => `0x${Buffer.from(account.getHdKey().privateKey).toString('hex')}`;
const toolCall = (id, meta) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `m${id}` }, ...(meta ? { _meta: meta } : {}) } });

function python(args) {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [join(ROOT, 'tests', 'x402_mcp_client.py'), ...args], { timeout: 180_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)));
    });
  });
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

let x402;
before(async () => { x402 = await startX402({ payers: 3 }); });
after(async () => x402?.stop());

describe('the official Python x402 MCP client', () => {
  let origin, gateway;
  before(async () => {
    origin = await startOrigin();
    // The gateway's defaults: a stock MCP-native payer needs no configuration.
    gateway = await startGateway({ originUrl: origin.url, vars: x402.vars({ QUOTA_PER_MINUTE: '5', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: undefined }) });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
  });

  test('pays every call past the quota inside MCP, and the chain moves by exactly what was charged', { timeout: 200_000 }, async () => {
    const account = x402.chain.payers[0];
    const { payTo } = x402.chain;
    const [payerBefore, payToBefore] = await Promise.all([x402.chain.balanceOf(account.address), x402.chain.balanceOf(payTo)]);
    const calls = 12;
    const out = await python([gateway.mcpUrl, testKey('x402-mcp'), privateKey(account), x402.chain.network, x402.chain.token, String(PRICE_PER_CALL), String(calls)]);
    assert.equal(out.served, calls);
    // Five within the quota (initialize and the calls count against it), the rest paid.
    assert.ok(out.paid >= calls - 5 && out.paid <= calls, JSON.stringify(out));
    assert.equal(new Set(out.receipts).size, out.paid, 'one settlement per paid call');
    const [payerAfter, payToAfter] = await Promise.all([x402.chain.balanceOf(account.address), x402.chain.balanceOf(payTo)]);
    assert.equal(payerBefore - payerAfter, BigInt(out.paid * PRICE_PER_CALL));
    assert.equal(payToAfter - payToBefore, BigInt(out.paid * PRICE_PER_CALL));
  });
});

describe('the payment inside MCP, on the wire', () => {
  let recording, gateway;
  before(async () => {
    recording = await startRecordingOrigin();
    gateway = await startGateway({ originUrl: recording.url, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'true' }) });
  });
  after(async () => {
    await gateway?.dispose();
    await recording?.close();
  });

  /** The PaymentRequired of an in-band refusal, for this client. */
  async function refused(key) {
    await post(gateway.mcpUrl, toolCall(1), key);
    const res = await post(gateway.mcpUrl, toolCall(2), key);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text);
    assert.equal(body.result.isError, true);
    return body.result.structuredContent;
  }

  test('an object and a base64 string both pay; the payment never reaches the origin; the result carries the receipt', { timeout: 60_000 }, async () => {
    const key = { 'x-api-key': testKey('wire-forms') };
    const client = payer(x402.chain.payers[1], { chain: x402.chain });
    for (const form of ['object', 'base64']) {
      const required = await refused(key);
      const payload = await client.createPaymentPayload(required);
      const meta = { 'x402/payment': form === 'object' ? payload : encodeHeader(payload), progressToken: 7 };
      const seen = recording.seen.length;
      const res = await post(gateway.mcpUrl, toolCall(10, meta), key);
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const body = JSON.parse(res.text);
      assert.equal(body.result._meta['x402/payment-response'].success, true, form);
      assert.match(body.result._meta['x402/payment-response'].transaction, /^0x[0-9a-f]{64}$/);
      const reached = recording.seen.slice(seen);
      assert.equal(reached.length, 1);
      assert.ok(!reached[0].raw.includes('x402/payment'), 'the payment reached the origin');
      assert.deepEqual(reached[0].parsed.params._meta, { progressToken: 7 }, 'every other byte as the client sent it');
      // Replayed: refused inside MCP, as a tool result with the requirement again.
      const again = JSON.parse((await post(gateway.mcpUrl, toolCall(11, meta), key)).text);
      assert.equal(again.result.isError, true);
      assert.equal(again.result.structuredContent.error, 'payment_already_used');
      assert.equal(again.result.structuredContent.x402Version, 2);
    }
  });

  test('an underpaid or malformed payment is an isError result, and the origin never sees the call', async () => {
    const key = { 'x-api-key': testKey('wire-refused') };
    const client = payer(x402.chain.payers[2], { chain: x402.chain, cap: false });
    const required = await refused(key);
    const cheap = structuredClone(required);
    cheap.accepts[0].amount = '1';
    const underpaid = await client.createPaymentPayload(cheap);
    const seen = recording.seen.length;
    for (const bad of [underpaid, 'not base64!', 7, { x402Version: 2 }]) {
      const res = JSON.parse((await post(gateway.mcpUrl, toolCall(20, { 'x402/payment': bad }), key)).text);
      assert.equal(res.result?.isError, true, JSON.stringify(res).slice(0, 300));
      assert.ok(res.result.structuredContent.error, JSON.stringify(res.result.structuredContent));
    }
    assert.equal(recording.seen.length, seen, 'a refused payment reached the origin');
  });
});

test('the receipt reaches an SSE answer, in the event that carries the result', { timeout: 60_000 }, async () => {
  // An origin that answers tools/call over SSE: a progress notification, then the result.
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const m = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } })}\n\n`);
      res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'sse' }] } })}\n\n`);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const gateway = await startGateway({ originUrl: `http://127.0.0.1:${server.address().port}`, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'true' }) });
  try {
    const key = { 'x-api-key': testKey('sse') };
    await (await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON.stringify(toolCall(1)) })).arrayBuffer();
    const denied = JSON.parse(await (await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON.stringify(toolCall(2)) })).text());
    const payload = await payer(x402.chain.payers[2], { chain: x402.chain }).createPaymentPayload(denied.result.structuredContent);
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON.stringify(toolCall(3, { 'x402/payment': payload })) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data:')).slice(5)));
    assert.equal(events[0].method, 'notifications/progress');
    assert.equal(events[1].result.content[0].text, 'sse');
    assert.equal(events[1].result._meta['x402/payment-response'].success, true);
  } finally {
    await gateway.dispose();
    server.close();
  }
});

describe('the receipt, whatever the origin answers', () => {
  // An origin whose answer to tools/call the test chooses by the call's message.
  let server, gateway;
  const big = 'x'.repeat(1_200_000);
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const m = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const mode = m.params?.arguments?.message;
        if (mode === 'numbers') {
          const body = `{"z":1,"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":{"a":12345678901234567890123,"f":1E5,"content":[]}}`;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
        } else if (mode === 'empty') {
          // A hostile or broken origin: no content, yet a JSON type.
          res.writeHead(204, { 'content-type': 'application/json' }).end();
        } else if (mode === 'big') {
          const body = JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: big }] } });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
        } else {
          // The result, then a stream left open: MCP says a server SHOULD close it, not MUST.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'open' }] } })}\n\n`);
        }
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    gateway = await startGateway({ originUrl: `http://127.0.0.1:${server.address().port}`, vars: x402.vars({ QUOTA_PER_MINUTE: '1', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'true' }) });
  });
  after(async () => {
    await gateway?.dispose();
    server?.closeAllConnections();
    server?.close();
  });

  async function paid(who, message) {
    const key = { 'x-api-key': testKey(who) };
    const call = (id, meta, m = message) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: m }, ...(meta ? { _meta: meta } : {}) } });
    // The quota's one call and the refusal on a JSON answer; the paid call gets the mode's.
    await (await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON.stringify(call(1, undefined, 'numbers')) })).arrayBuffer();
    const denied = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON.stringify(call(2)) });
    const text = await denied.text();
    const required = JSON.parse(text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data:')).slice(5)).result.structuredContent;
    const payload = await payer(x402.chain.payers[2], { chain: x402.chain }).createPaymentPayload(required);
    return fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, ...key }, body: JSON.stringify(call(3, { 'x402/payment': payload })), signal: AbortSignal.timeout(20_000) });
  }

  test('is spliced into the origin\'s bytes, which stay the origin\'s', async () => {
    const res = await paid('numbers', 'numbers');
    assert.equal(await res.text().then((t) => t.replace(/"_meta":\{"x402\/payment-response":\{[^}]*\}\},/, '')), '{"z":1,"jsonrpc":"2.0","id":3,"result":{"a":12345678901234567890123,"f":1E5,"content":[]}}');
  });

  test('an answer over 1 MiB is served whole, with the receipt in its header', async () => {
    const res = await paid('big', 'big');
    assert.equal(res.status, 200);
    assert.ok(decodeHeader(res.headers.get('payment-response')).success);
    assert.equal(JSON.parse(await res.text()).result.content[0].text.length, big.length);
  });

  test('an answer without content keeps the receipt in its header, and the gateway stays up', async () => {
    const res = await paid('empty', 'empty');
    assert.equal(res.status, 204);
    assert.ok(decodeHeader(res.headers.get('payment-response')).success);
    assert.equal(await res.text(), '');
    const after = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, 'x-api-key': testKey('after-empty') }, body: JSON.stringify(toolCall(1)) });
    assert.equal(after.status, 200, 'the next client is served');
  });

  test('a stream the origin leaves open delivers the result with its receipt at once', async () => {
    const res = await paid('open', 'open');
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const message = JSON.parse(text.split('\n').find((l) => l.startsWith('data:')).slice(5));
    assert.equal(message.result.content[0].text, 'open');
    assert.equal(message.result._meta['x402/payment-response'].success, true);
  });
});
