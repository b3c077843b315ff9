#!/usr/bin/env node
// The round trip a client sees past its quota, for each payment rail and transport: the call
// that meets the refusal, the payment (or the proof of work), and the served answer, timed end to
// end with the real parts the test suite uses: the built gateway in workerd (Miniflare, real
// Durable Objects and D1), the demo origin, LNbits on its FakeWallet (real BOLT11 invoices), a
// local Hardhat chain with the official x402 facilitator settling EIP-3009 transfers, and the
// stock clients: the official MCP TypeScript SDK, the project's kit (clients/js), @x402/fetch,
// @x402/core's client, mppx (its fetch wrapper and McpClient.wrap), and, when installed, the
// official Python x402 MCP client.
//
//   node bench/roundtrips.mjs [--n 10] [--warmup 1] [--rows pow-http,pow-mcp,...] [--bits 12]
//                             [--quota 2] [--offers x402,mpp,l402,pow] [--out bench/roundtrips.md]
//                             [--verbose]
//
// Every round trip is a fresh client (its own gateway-issued API key, a new MCP session) whose
// quota the MCP handshake has just spent, so the call timed is the first one refused: the stock
// SDK's `initialize` and `notifications/initialized` are two requests the gateway counts (with a
// quota of 1 the notification itself is refused, with an HTTP 402, and a stock client cannot
// connect at all), hence the default quota of 2 a minute. The SDK's standalone SSE `GET` after
// the handshake is refused too (an HTTP 402: it has no JSON-RPC id); under a paying fetch wrapper
// it goes out through the plain fetch, so that the wrapper pays for the tool call and not for a
// stream the SDK drops anyway, and each round trip starts once that GET has been answered.
// That refused GET is the client's first refusal, so its challenges (an L402 invoice, a PoW
// salt) are minted there and the call's refusal offers them again (docs/threat-model.md: no new
// row, no new invoice): the timed refusal is the repeat, as a stock client meets it. The Python
// SDK sends its GET while the quota lasts (admitted) and lists the tools before its first call,
// so its row runs with a quota two larger.
// Each row runs against its own fresh gateway offering that rail then proof of work (proof of
// work alone for the PoW rows), unless `--offers` names one list for all rows. Proof of work is at
// a fixed difficulty (POW_MIN_BITS = POW_BASE_BITS = --bits, POW_ADAPTIVE false).
//
// Times are wall clock from the start of the call that meets the refusal to the served answer;
// for the rows driven by hand (in-band PoW, x402 in MCP from JS) that spans the refused call, the
// solve or the signing, the redemption and the retry. The breakdown columns come from a fetch
// that records each HTTP exchange under the client (httpx event hooks for Python): "refusal" is
// the refused request up to its response headers, "served" the request that was answered up to
// the result in the client's hands (for x402 and MPP it holds the facilitator's verification
// and on-chain settlement), "redeem" the POST to verify_url (the token rails), and "pay·solve"
// the rest: the client's own work (solving, paying the invoice, signing) and its bookkeeping.
// The output is a markdown table on stdout, also written to bench/roundtrips.md (one section per
// offers configuration, replaced on each run).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mppx, evm } from 'mppx-client/client';
import { McpClient } from 'mppx-client/mcp/client';
import { startOrigin } from '../demo/origin.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { TOKEN_NAME, TOKEN_VERSION } from '../demo/x402/chain.mjs';
import { gatehouseFetch, solvePow, wire } from '../clients/js/index.mjs';
import { ROOT, startGateway, testKey } from '../tests/support/gateway.mjs';
import { connect } from '../tests/support/mcp.mjs';
import { PRICE_PER_CALL, payer, startX402, x402Fetch } from '../tests/support/x402.mjs';
import { gatewayCommit } from './results-file.mjs';

// ---------------------------------------------------------------------------------------------
// Command line

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const N = Number(arg('n', 10));
const WARMUP = Number(arg('warmup', 1));
const BITS = Number(arg('bits', 12));
const QUOTA = Number(arg('quota', 2));
const SHARED_OFFERS = arg('offers', null);
const OUT = arg('out', join(ROOT, 'bench', 'roundtrips.md'));
const VERBOSE = process.argv.includes('--verbose');
const ITERATION_TIMEOUT_MS = 60_000;
const L402_ROOT_KEY = 'roundtrips-l402-root-key-0123456789abcdef';
const PYTHON = join(ROOT, '.tools', 'x402py', 'bin', 'python');

// workerd's structured log lines (one per refusal) would bury the table; --verbose keeps them.
if (!VERBOSE) {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const kept = text.split('\n').filter((l) => !/^\s*\{.*"event":"/.test(l)).join('\n');
    return kept.trim() ? write(kept, ...rest) : true;
  };
}
const log = (...a) => console.error(...a);

// ---------------------------------------------------------------------------------------------
// Services, started when a row first needs them and stopped at the end

const services = {};
const stops = [];
/** Starts a service once; its stop is registered before it is up, so an interrupt mid-start still stops it. */
function service(name, start, stop, note) {
  if (!services[name]) {
    if (note) log(note);
    services[name] = start();
    stops.push(async () => { const s = await services[name].catch(() => null); if (s) await stop(s); });
  }
  return services[name];
}
const origin = () => service('origin', () => startOrigin(), (o) => o.close());
const x402 = () => service('x402', () => startX402({ payers: 6 }), (x) => x.stop(), 'starting the local chain and the x402 facilitator…');
const lnbits = () => service('ln', () => startLnbits(), (ln) => ln.stop(), 'starting LNbits (FakeWallet)…');
let stopping, currentGateway;
async function stopAll() {
  stopping ??= (async () => {
    try { await currentGateway?.dispose(); } catch {}
    for (const stop of stops.reverse()) { try { await stop(); } catch {} }
  })();
  return stopping;
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopAll().finally(() => process.exit(130)); });

/** A fresh gateway for a row: quota, fixed PoW difficulty, in-band answers on (the default). */
async function gatewayFor(offers, quota = QUOTA) {
  const list = offers.split(',');
  const vars = {
    QUOTA_PER_MINUTE: String(quota),
    RATE_KEY_HEADER: 'x-api-key',
    POW_MIN_BITS: String(BITS),
    POW_BASE_BITS: String(BITS),
    POW_MAX_BITS: String(Math.max(BITS, 16)),
    POW_ADAPTIVE: 'false',
    IN_BAND_CHALLENGES: undefined,
    CHALLENGE_OFFERS: offers,
  };
  if (list.includes('x402') || list.includes('mpp')) Object.assign(vars, (await x402()).vars(), { CHALLENGE_OFFERS: offers });
  if (list.includes('l402')) {
    const ln = await lnbits();
    Object.assign(vars, { L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY });
  }
  return startGateway({ originUrl: (await origin()).url, vars });
}

// ---------------------------------------------------------------------------------------------
// Instruments

/** A fetch that records each HTTP exchange (what it was, status, when it went and came back). */
function recorder(base = fetch) {
  const seen = [];
  let getDone;
  const getAnswered = new Promise((r) => { getDone = r; });
  const recFetch = async (input, init) => {
    const method = (init?.method ?? input?.method ?? 'GET').toUpperCase();
    const url = String(input?.url ?? input);
    const start = performance.now();
    let what = method;
    if (url.endsWith(wire.paths.verify_challenge)) what = 'verify';
    else {
      // A wrapper may hand on a Request rather than (url, init): its body is read from a clone.
      const body = typeof init?.body === 'string' ? init.body : init?.body === undefined && input instanceof Request && method !== 'GET' ? await input.clone().text() : null;
      try { const m = JSON.parse(body); what = Array.isArray(m) ? 'batch' : m?.method ?? 'response'; } catch {}
    }
    const entry = { what, start };
    seen.push(entry);
    try {
      const res = await base(input, init);
      entry.end = performance.now();
      entry.status = res.status;
      if (method === 'GET') getDone();
      return res;
    } catch (e) {
      entry.end = performance.now();
      entry.error = String(e?.message ?? e);
      if (method === 'GET') getDone();
      throw e;
    }
  };
  return { fetch: recFetch, seen, getAnswered };
}

/** Under a paying wrapper: POSTs through `paying`, the SDK's standalone GET through `plain`. */
const postsThrough = (paying, plain) => (input, init) => ((init?.method ?? 'GET').toUpperCase() === 'GET' ? plain(input, init) : paying(input, init));

/** Waits for the SDK's standalone GET to be answered (it is sent right after the handshake). */
async function settle(rec) {
  await Promise.race([rec.getAnswered, new Promise((r) => setTimeout(r, 2_000))]);
}

/** Splits a timed call into refusal / between (pay·solve) / redeem / served, from the exchanges recorded in it. */
function breakdown(rec, t0, t1) {
  const calls = rec.seen.filter((e) => e.start >= t0 && e.what === 'tools/call');
  const all = rec.seen.filter((e) => e.start >= t0 && e.start <= t1);
  if (calls.length < 2) return { requests: all.length };
  const refusal = calls[0].end - t0;
  const served = t1 - calls.at(-1).start;
  const redeems = all.filter((e) => e.what === 'verify');
  const redeem = redeems.length ? redeems.reduce((sum, e) => sum + (e.end - e.start), 0) : undefined;
  const between = t1 - t0 - refusal - served;
  return { refusal, served, between: between - (redeem ?? 0), redeem, requests: all.length, statuses: all.map((e) => `${e.what}:${e.status}`) };
}

function servedText(result, message) {
  if (result?.isError) throw new Error(`still refused: ${JSON.stringify(result).slice(0, 300)}`);
  const text = result?.content?.[0]?.text ?? '';
  if (!text.endsWith(message)) throw new Error(`unexpected answer: ${text.slice(0, 200)}`);
}

const evmCharge = (account) => evm.charge({ account, authorization: { name: TOKEN_NAME, version: TOKEN_VERSION } });
const privateKey = (account) => `0x${Buffer.from(account.getHdKey().privateKey).toString('hex')}`;

// ---------------------------------------------------------------------------------------------
// The rows. Each `once(ctx, i)` sets up a fresh client, then times one refused call through to
// the served answer, returning { ms, refusal?, between?, redeem?, served?, requests? }.

const ROWS = [
  {
    id: 'pow-http',
    rail: 'PoW', transport: 'HTTP 402', offers: 'pow',
    client: 'MCP TS SDK 1.32 on the kit\'s `gatehouseFetch` (clients/js)',
    did: '402 → kit solves PoW → POST verify_url → retry with `x-access-token` → 200',
    async once({ gateway }, i) {
      const rec = recorder();
      const events = [];
      const kit = gatehouseFetch({ fetch: rec.fetch, onEvent: (e) => events.push(e.type) });
      const mcp = await connect(gateway.mcpUrl, { fetch: postsThrough(kit, rec.fetch), headers: { 'x-api-key': testKey(`pow-http-${i}`) } });
      try {
        await settle(rec);
        const message = `pow-http ${i}`;
        const t0 = performance.now();
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message } });
        const t1 = performance.now();
        servedText(r, message);
        if (!events.includes('solved') || !events.includes('redeemed')) throw new Error(`the kit did not solve: ${events}`);
        return { ms: t1 - t0, ...breakdown(rec, t0, t1) };
      } finally { await mcp.close(); }
    },
  },
  {
    id: 'pow-mcp',
    rail: 'PoW', transport: 'in-band (MCP)', offers: 'pow',
    client: 'stock MCP TS SDK 1.32, by hand with `solvePow` (clients/js)',
    did: 'isError tool result → solve `structuredContent.challenges` PoW → POST verify_url → callTool again with `_meta["gatehouse/access_token"]`',
    async once({ gateway }, i) {
      const rec = recorder();
      const key = testKey(`pow-mcp-${i}`);
      const mcp = await connect(gateway.mcpUrl, { fetch: rec.fetch, headers: { 'x-api-key': key } });
      try {
        await settle(rec);
        const message = `pow-mcp ${i}`;
        const t0 = performance.now();
        const refused = await mcp.client.callTool({ name: 'echo', arguments: { message } });
        if (!refused.isError) throw new Error('the call was not refused');
        const c = refused.structuredContent.challenges.find((x) => x.type === wire.challenge_types.pow);
        if (c.difficulty !== BITS) throw new Error(`offered ${c.difficulty} bits, not ${BITS}`);
        const nonce = await solvePow(c.salt, c.difficulty);
        // The same fetch the SDK uses (so the same default user-agent), with the same key.
        const res = await rec.fetch(c.verify_url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ challenge_id: c.challenge_id, solution: { nonce } }) });
        const body = await res.json();
        if (res.status !== 200) throw new Error(`redeem ${res.status} ${JSON.stringify(body)}`);
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message }, _meta: { [wire.meta.access_token]: body.access_token } });
        const t1 = performance.now();
        servedText(r, message);
        return { ms: t1 - t0, difficulty: c.difficulty, ...breakdown(rec, t0, t1) };
      } finally { await mcp.close(); }
    },
  },
  {
    id: 'l402-http',
    rail: 'L402', transport: 'HTTP 402', offers: 'l402,pow', needs: ['ln'],
    client: 'MCP TS SDK 1.32 on `gatehouseFetch` with a wallet paying from LNbits',
    did: '402 → kit pays the BOLT11 invoice (LNbits `POST /api/v1/payments`) → POST verify_url with the preimage → retry with `x-access-token` → 200',
    async once({ gateway, ln }, i) {
      const rec = recorder();
      const events = [];
      const wallet = { payInvoice: async ({ invoice }) => ({ preimage: await ln.pay(invoice) }) };
      const kit = gatehouseFetch({ fetch: rec.fetch, wallet, onEvent: (e) => events.push(e.type) });
      const mcp = await connect(gateway.mcpUrl, { fetch: postsThrough(kit, rec.fetch), headers: { 'x-api-key': testKey(`l402-http-${i}`) } });
      try {
        await settle(rec);
        const message = `l402-http ${i}`;
        const t0 = performance.now();
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message } });
        const t1 = performance.now();
        servedText(r, message);
        if (!events.includes('paid')) throw new Error(`the kit did not pay: ${events}`);
        return { ms: t1 - t0, ...breakdown(rec, t0, t1) };
      } finally { await mcp.close(); }
    },
  },
  {
    id: 'x402-http',
    rail: 'x402', transport: 'HTTP 402', offers: 'x402,pow', needs: ['x402'],
    client: 'MCP TS SDK 1.32 on `@x402/fetch` 2.27 (`wrapFetchWithPayment`), with `Gatehouse-Accept: 402`',
    did: '402 `PAYMENT-REQUIRED` → sign EIP-3009 `exact` → retry with `PAYMENT-SIGNATURE` → gateway verifies and settles via the facilitator → 200 with `PAYMENT-RESPONSE`',
    async once({ gateway, x402: x }, i) {
      const rec = recorder();
      const paying = x402Fetch(x.chain.payers[0], x.chain, rec.fetch);
      const mcp = await connect(gateway.mcpUrl, { fetch: postsThrough(paying, rec.fetch), headers: { 'x-api-key': testKey(`x402-http-${i}`), [wire.headers.accept_402]: wire.header_values.accept_402 } });
      try {
        await settle(rec);
        const message = `x402-http ${i}`;
        const t0 = performance.now();
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message } });
        const t1 = performance.now();
        servedText(r, message);
        const b = breakdown(rec, t0, t1);
        if (!b.statuses?.includes('tools/call:402')) throw new Error(`no 402 met: ${b.statuses}`);
        return { ms: t1 - t0, ...b };
      } finally { await mcp.close(); }
    },
  },
  {
    id: 'x402-mcp',
    rail: 'x402', transport: 'in-band (MCP)', offers: 'x402,pow', needs: ['x402'],
    client: 'stock MCP TS SDK 1.32, by hand with @x402/core 2.27\'s client + @x402/evm `exact` (the wire tests\' way)',
    did: 'isError tool result → `createPaymentPayload(structuredContent)` → callTool again with `_meta["x402/payment"]` → settled → result with `_meta["x402/payment-response"]`',
    async once({ gateway, x402: x }, i) {
      const rec = recorder();
      const client = payer(x.chain.payers[1], { chain: x.chain });
      const mcp = await connect(gateway.mcpUrl, { fetch: rec.fetch, headers: { 'x-api-key': testKey(`x402-mcp-${i}`) } });
      try {
        await settle(rec);
        const message = `x402-mcp ${i}`;
        const t0 = performance.now();
        const refused = await mcp.client.callTool({ name: 'echo', arguments: { message } });
        if (!refused.isError) throw new Error('the call was not refused');
        const payload = await client.createPaymentPayload(refused.structuredContent);
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message }, _meta: { [wire.meta.x402_payment]: payload } });
        const t1 = performance.now();
        servedText(r, message);
        if (r._meta?.[wire.meta.x402_payment_response]?.success !== true) throw new Error('no x402 receipt');
        return { ms: t1 - t0, ...breakdown(rec, t0, t1) };
      } finally { await mcp.close(); }
    },
  },
  {
    id: 'x402-mcp-py',
    rail: 'x402', transport: 'in-band (MCP)', offers: 'x402,pow', needs: ['x402'], batch: true,
    // initialize, notifications/initialized, the Python SDK's GET stream (sent while the quota
    // lasts, so admitted) and the tools/list it makes before its first call_tool.
    extraQuota: 2,
    client: 'official Python x402 MCP client (`x402MCPSession`, x402 2.25) on the Python MCP SDK 1.x',
    did: 'one `call_tool`: isError result → signs → calls again with `_meta["x402/payment"]` → settled → result with the receipt (timed inside Python, exchanges recorded by httpx event hooks)',
    available: () => existsSync(PYTHON),
    async all({ gateway, x402: x }, count) {
      const keys = Array.from({ length: count }, (_, i) => testKey(`x402-mcp-py-${i}`));
      const account = x.chain.payers[2];
      const out = await new Promise((resolve, reject) => execFile(PYTHON, ['-c', PY_CLIENT, gateway.mcpUrl, privateKey(account), x.chain.network, x.chain.token, '100000', ...keys], { timeout: count * 30_000 + 30_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr.slice(-2000)}`)) : resolve(stdout))));
      return out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).map((r) => { if (r.trace && VERBOSE) log(r.trace); return r; }).map((r) => (r.ok && r.paid ? { ms: r.ms, refusal: r.refusal, between: r.between, served: r.served, requests: r.requests } : { error: r.error ?? 'not paid' }));
    },
  },
  {
    id: 'mpp-http',
    rail: 'MPP', transport: 'HTTP 402', offers: 'mpp,pow', needs: ['x402'],
    client: 'MCP TS SDK 1.32 on mppx 0.11\'s fetch (`Mppx.create`, `evm.charge`)',
    did: '402 `WWW-Authenticate: Payment` (mppx sends `Accept-Payment`) → signs an EIP-3009 credential → retry with `Authorization: Payment` → settled → 200 with `Payment-Receipt`',
    async once({ gateway, x402: x }, i) {
      const rec = recorder();
      const mppx = Mppx.create({ methods: [evmCharge(x.chain.payers[3])], polyfill: false, fetch: rec.fetch });
      const mcp = await connect(gateway.mcpUrl, { fetch: postsThrough(mppx.fetch, rec.fetch), headers: { 'x-api-key': testKey(`mpp-http-${i}`) } });
      try {
        await settle(rec);
        const message = `mpp-http ${i}`;
        const t0 = performance.now();
        const r = await mcp.client.callTool({ name: 'echo', arguments: { message } });
        const t1 = performance.now();
        servedText(r, message);
        const b = breakdown(rec, t0, t1);
        if (!b.statuses?.includes('tools/call:402')) throw new Error(`no 402 met: ${b.statuses}`);
        return { ms: t1 - t0, ...b };
      } finally { await mcp.close(); }
    },
  },
  {
    id: 'mpp-mcp',
    rail: 'MPP', transport: 'in-band (MCP)', offers: 'mpp,pow', needs: ['x402'],
    client: 'stock MCP TS SDK 1.32 wrapped by mppx 0.11\'s `McpClient.wrap`',
    did: 'one `callTool`: isError result with `_meta["org.paymentauth/payment-required"]` → credential → calls again with `_meta["org.paymentauth/credential"]` → settled → result with the receipt',
    async once({ gateway, x402: x }, i) {
      const rec = recorder();
      const mcp = await connect(gateway.mcpUrl, { fetch: rec.fetch, headers: { 'x-api-key': testKey(`mpp-mcp-${i}`) } });
      const client = McpClient.wrap(mcp.client, { methods: [evmCharge(x.chain.payers[4])] });
      try {
        await settle(rec);
        const message = `mpp-mcp ${i}`;
        const t0 = performance.now();
        const r = await client.callTool({ name: 'echo', arguments: { message } });
        const t1 = performance.now();
        servedText(r, message);
        if (!r.receipt) throw new Error('no receipt: the call was not paid');
        return { ms: t1 - t0, ...breakdown(rec, t0, t1) };
      } finally { await mcp.close(); }
    },
  },
];

// The official Python x402 MCP client (as tests/x402_mcp_client.py drives it), one fresh session
// per key: handshake, its GET stream and tools/list (within a quota two larger), then one timed call_tool that is refused,
// paid inside MCP, and served. One JSON line per key.
const PY_CLIENT = String.raw`
import asyncio, json, sys, time
from eth_account import Account
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared._httpx_utils import create_mcp_http_client
from x402 import x402Client
from x402.mcp import x402MCPSession
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.mechanisms.evm.signers import EthAccountSigner

# Each HTTP exchange: [JSON-RPC method or HTTP method, sent, response headers received].
exchanges, pending = [], {}

def recording_client(headers=None, timeout=None, auth=None):
    client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
    async def sent(request):
        try:
            what = json.loads(request.content).get("method", "response")
        except Exception:
            what = request.method
        entry = [what, time.perf_counter(), None]
        exchanges.append(entry)
        pending[id(request)] = entry
    async def answered(response):
        entry = pending.pop(id(response.request), None)
        if entry:
            entry[2] = time.perf_counter()
    client.event_hooks["request"].append(sent)
    client.event_hooks["response"].append(answered)
    return client

async def once(url, key, payments, i):
    async with streamablehttp_client(url, headers={"x-api-key": key}, timeout=30, httpx_client_factory=recording_client) as (read, write, _):
        async with ClientSession(read, write) as session:
            mcp = x402MCPSession(session, payments)
            await mcp.initialize()
            # The SDK opens its GET stream once initialized (admitted: it counts against the quota)
            # and lists the tools before its first call_tool (to check results against their
            # schemas): both done here, in the quota, so that the timed call is the refused one.
            await asyncio.sleep(0.3)
            await session.list_tools()
            await asyncio.sleep(0.1)
            message = f"x402-mcp-py {i}"
            t0 = time.perf_counter()
            result = await mcp.call_tool("echo", {"message": message})
            t1 = time.perf_counter()
            ok = (not result.is_error) and result.content[0].text.endswith(message)
            out = {"ms": (t1 - t0) * 1000, "ok": ok, "paid": bool(result.payment_made)}
            within = [e for e in exchanges if t0 <= e[1] <= t1]
            calls = [e for e in within if e[0] == "tools/call"]
            out["requests"] = len(within)
            if len(calls) >= 2 and calls[0][2]:
                out["refusal"] = (calls[0][2] - t0) * 1000
                out["served"] = (t1 - calls[-1][1]) * 1000
                out["between"] = out["ms"] - out["refusal"] - out["served"]
            return out

async def main():
    url, private_key, network, asset, cap = sys.argv[1:6]
    payments = x402Client()
    payments.set_spend_controls({"allowed_assets": [{"network": network, "asset": asset, "max_amount_per_payment": cap}]})
    payments.register(network, ExactEvmClientScheme(EthAccountSigner(Account.from_key(private_key))))
    for i, key in enumerate(sys.argv[6:]):
        try:
            out = await once(url, key, payments, i)
        except Exception as e:
            import traceback
            out = {"ok": False, "error": repr(e)[:300], "trace": traceback.format_exc()[-1500:]}
        print(json.dumps(out), flush=True)

asyncio.run(main())
`;

// ---------------------------------------------------------------------------------------------
// Statistics and output

function quantile(sorted, q) {
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '–');

function summarize(row, samples) {
  const ok = samples.filter((s) => Number.isFinite(s.ms));
  const ms = ok.map((s) => s.ms).sort((a, b) => a - b);
  const part = (k) => median(ok.map((s) => s[k]).filter(Number.isFinite));
  return {
    row, n: ok.length, failed: samples.length - ok.length, errors: samples.filter((s) => s.error).map((s) => s.error),
    median: median(ms), p90: quantile(ms, 0.9), min: ms[0], max: ms.at(-1),
    refusal: part('refusal'), between: part('between'), redeem: part('redeem'), served: part('served'),
    requests: median(ok.map((s) => s.requests).filter(Number.isFinite)),
  };
}

function table(results) {
  const lines = [
    '| rail | transport | client | N | median ms | p90 ms | min–max ms | refusal / pay·solve / redeem / served (median ms) | HTTP requests | what the client did |',
    '|---|---|---|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const r of results) {
    const n = r.failed ? `${r.n} (${r.failed} failed)` : String(r.n);
    const parts = Number.isFinite(r.refusal) ? `${fmt(r.refusal)} / ${fmt(r.between)} / ${fmt(r.redeem)} / ${fmt(r.served)}` : '– (timed inside the client)';
    lines.push(`| ${r.row.rail} | ${r.row.transport} | ${r.row.client} | ${n} | ${fmt(r.median)} | ${fmt(r.p90)} | ${fmt(r.min)}–${fmt(r.max)} | ${parts} | ${Number.isFinite(r.requests) ? r.requests : '–'} | ${r.row.did} |`);
  }
  return lines.join('\n');
}

function writeSection(title, markdown) {
  const intro = '# Gatehouse: round trips past the quota\n\nWritten by `node bench/roundtrips.mjs` (see its header for what is measured and how). One section per offers configuration; a run replaces its own.';
  let text = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  const sections = text.split(/^(?=## )/m).filter((s) => s.startsWith('## '));
  const content = `## ${title}\n\n${markdown.trim()}\n\n`;
  const i = sections.findIndex((s) => s.startsWith(`## ${title}\n`));
  if (i >= 0) sections[i] = content; else sections.push(content);
  writeFileSync(OUT, `${intro}\n\n${sections.join('').trimEnd()}\n`);
}

// ---------------------------------------------------------------------------------------------
// Run

const wanted = arg('rows', null)?.split(',');
const rows = ROWS.filter((r) => !wanted || wanted.includes(r.id));
if (wanted) for (const w of wanted) if (!ROWS.some((r) => r.id === w)) throw new Error(`no row ${w}; rows: ${ROWS.map((r) => r.id).join(', ')}`);

const withTimeout = (p, ms, what) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms).unref())]);

const results = [];
const started = new Date();
try {
  for (const row of rows) {
    if (row.available && !row.available()) { log(`skipping ${row.id}: not installed`); continue; }
    const offers = SHARED_OFFERS ?? row.offers;
    const ctx = {};
    if (row.needs?.includes('ln') || offers.includes('l402')) ctx.ln = await lnbits();
    if (row.needs?.includes('x402') || /x402|mpp/.test(offers)) ctx.x402 = await x402();
    ctx.gateway = currentGateway = await gatewayFor(offers, QUOTA + (row.extraQuota ?? 0));
    const samples = [];
    try {
      log(`${row.id}: ${WARMUP} warm-up + ${N} round trips (offers ${offers})`);
      if (row.batch) {
        const all = await row.all(ctx, WARMUP + N);
        samples.push(...all.slice(WARMUP));
      } else {
        for (let i = 0; i < WARMUP + N; i++) {
          let s;
          try { s = await withTimeout(row.once(ctx, i), ITERATION_TIMEOUT_MS, `${row.id} #${i}`); } catch (e) { s = { error: String(e?.message ?? e).slice(0, 300) }; }
          if (s.error) log(`  ${row.id} #${i}: ${s.error}`);
          if (i >= WARMUP) samples.push(s);
        }
      }
    } finally {
      currentGateway = null;
      await ctx.gateway.dispose();
    }
    const summary = summarize(row, samples);
    log(`  median ${fmt(summary.median)} ms, p90 ${fmt(summary.p90)} ms${summary.failed ? `, ${summary.failed} failed` : ''}`);
    results.push(summary);
  }
} finally {
  await stopAll();
}

const title = SHARED_OFFERS ? `Every row against CHALLENGE_OFFERS=${SHARED_OFFERS}` : 'Each row against its own rail (CHALLENGE_OFFERS=<rail>,pow; pow alone for PoW)';
const failures = results.filter((r) => r.failed).map((r) => `- ${r.row.id}: ${[...new Set(r.errors)].slice(0, 3).join('; ')}`);
const markdown = [
  table(results),
  '',
  `Run ${started.toISOString()}, gateway commit ${gatewayCommit()}, Node ${process.version}. ` +
    `Command: \`node bench/roundtrips.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\`. ` +
    `${N} timed round trips per row after ${WARMUP} warm-up, each a fresh client (own API key, new MCP session) whose quota ` +
    `(QUOTA_PER_MINUTE=${QUOTA}; ${QUOTA + 2} for the Python client, whose SDK also opens its GET stream within the quota and lists the tools first) its handshake had spent. Proof of work at ${BITS} bits (POW_MIN_BITS=POW_BASE_BITS=${BITS}, POW_ADAPTIVE=false). ` +
    `x402 and MPP pay ${PRICE_PER_CALL} atomic units of the local EIP-3009 token on a Hardhat chain (automine), settled by the official x402 facilitator; ` +
    'L402 pays 3-sat invoices between two LNbits FakeWallet wallets. In-band answers on (IN_BAND_CHALLENGES default). ' +
    'Median of the samples; p90 by nearest rank. Times run from the start of the call that met the refusal to the served answer; ' +
    '"refusal" is the refused request (to its response headers); "pay·solve" the client\'s own work after it (solving, paying the invoice, signing); ' +
    '"redeem" the POST to verify_url (token rails only); "served" the request that was answered, to the result in hand (for x402 and MPP it holds the facilitator\'s verify and on-chain settle). ' +
    'In the TypeScript SDK rows the SDK\'s standalone GET, refused just before each timed call, minted the challenges that the call\'s refusal offers again; the Python SDK\'s GET is admitted, so its timed refusal is the first. ' +
    'One machine with two cores shared with other work: read the numbers as relative.',
  ...(failures.length ? ['', 'Failures:', ...failures] : []),
].join('\n');

console.log(`\n## ${title}\n\n${markdown}\n`);
writeSection(title, markdown);
log(`written to ${OUT}`);
