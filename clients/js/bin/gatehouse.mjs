#!/usr/bin/env node
// gatehouse connect <url>: a stdio MCP bridge, so that any stdio MCP client (a desktop assistant,
// an IDE) can use a remote MCP server behind Gatehouse. Messages pass through unchanged; on the
// way it answers 402 challenges (the fetch wrapper), in-band challenges (an isError tool result or JSON-RPC error 402: it
// solves, then resends the call with the token in `_meta`), and OAuth (client credentials).
// It answers only challenges the gateway marked as its own, at a verify URL on the gateway's
// origin (`guard.mjs`), and pays at most the caps below.
//
//   gatehouse connect https://gw.example.com/mcp [--header name:value]... [--no-declare-402]
//     [--max-sats-per-invoice N] [--max-sats-total N] [--identity-header name]...
//
// Environment: GATEHOUSE_OAUTH_CLIENT_ID, GATEHOUSE_OAUTH_CLIENT_SECRET, GATEHOUSE_OAUTH_SCOPE
// for OAuth; LNBITS_URL and LNBITS_ADMIN_KEY to pay L402 invoices from an LNbits wallet;
// GATEHOUSE_MAX_SATS_PER_INVOICE (10) and GATEHOUSE_MAX_SATS_TOTAL (100) cap those payments,
// read from each invoice (the flags win). A redemption carries only the identity headers
// (`authorization`, `user-agent`, `x-api-key`, and any `--identity-header`).
//
// What it reads is bounded (`read.mjs`): a body it parses to 64 KiB within 10 s; every message
// it passes on, from the gateway or from stdin, to 10 MiB, and one from the gateway within 60 s
// of its first byte. Nothing here waits on stdin: a message is handled when its line ends.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import {
  DEFAULT_IDENTITY_HEADERS, MAX_DIFFICULTY, MAX_MESSAGE_BYTES, PAYMENT_DEADLINE_MS, POW_ALGORITHM, REQUEST_DEADLINE_MS, gatehouseFetch, identityHeaders,
  isGatewayChallenge, limitMessages, parseJson, readCapped, readJson, redeem, requestUrl, solvePow, verifyUrlFor, withDeadline, wire,
} from '../index.mjs';

const IN_BAND = wire.jsonrpc.payment_required;
const TOKEN_KEY = wire.meta.access_token; // where a token goes back in `params._meta`

const USAGE = 'usage: gatehouse connect <url> [--header name:value]... [--no-declare-402] [--max-sats-per-invoice N] [--max-sats-total N] [--identity-header name]...';

function sats(value, name) {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isSafeInteger(n) || n < 0) {
    console.error(`${name} must be a whole number of sats`);
    process.exit(2);
  }
  return n;
}

function parseArgs(argv, env) {
  const [command, url, ...rest] = argv;
  if (command !== 'connect' || !url) {
    console.error(USAGE);
    process.exit(2);
  }
  const headers = {};
  const identity = [...DEFAULT_IDENTITY_HEADERS];
  let declare402 = true;
  let maxSatsPerInvoice = env.GATEHOUSE_MAX_SATS_PER_INVOICE === undefined ? undefined : sats(env.GATEHOUSE_MAX_SATS_PER_INVOICE, 'GATEHOUSE_MAX_SATS_PER_INVOICE');
  let maxSatsTotal = env.GATEHOUSE_MAX_SATS_TOTAL === undefined ? undefined : sats(env.GATEHOUSE_MAX_SATS_TOTAL, 'GATEHOUSE_MAX_SATS_TOTAL');
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--header' && rest[i + 1]?.includes(':')) {
      const [k, ...v] = rest[++i].split(':');
      headers[k.trim()] = v.join(':').trim();
    } else if (rest[i] === '--no-declare-402') {
      declare402 = false;
    } else if (rest[i] === '--max-sats-per-invoice') {
      maxSatsPerInvoice = sats(rest[++i], rest[i - 1]);
    } else if (rest[i] === '--max-sats-total') {
      maxSatsTotal = sats(rest[++i], rest[i - 1]);
    } else if (rest[i] === '--identity-header' && rest[i + 1]) {
      identity.push(rest[++i]);
    }
  }
  return { url: new URL(url), headers, declare402, maxSatsPerInvoice, maxSatsTotal, identity };
}

function lnbitsWallet() {
  const { LNBITS_URL: base, LNBITS_ADMIN_KEY: key } = process.env;
  if (!base || !key) return undefined;
  return {
    async payInvoice({ invoice }) {
      const res = await fetch(`${base}/api/v1/payments`, withDeadline({ method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ out: true, bolt11: invoice }) }, PAYMENT_DEADLINE_MS));
      const paid = await readJson(res);
      if (!res.ok) throw new Error(`LNbits refused the payment: ${res.status}`);
      if (paid?.preimage) return { preimage: paid.preimage };
      if (typeof paid?.payment_hash !== 'string') throw new Error('LNbits answered without a payment hash');
      const status = await readJson(await fetch(`${base}/api/v1/payments/${encodeURIComponent(paid.payment_hash)}`, withDeadline({ headers: { 'x-api-key': key } }, REQUEST_DEADLINE_MS)));
      return { preimage: status?.preimage };
    },
  };
}

function oauthProvider() {
  const { GATEHOUSE_OAUTH_CLIENT_ID: clientId, GATEHOUSE_OAUTH_CLIENT_SECRET: clientSecret, GATEHOUSE_OAUTH_SCOPE: scope } = process.env;
  return clientId && clientSecret ? new ClientCredentialsProvider({ clientId, clientSecret, scope }) : undefined;
}

/** How long an in-band proof of work may take before the call fails instead. */
const IN_BAND_SOLVE_BUDGET_MS = 30_000;

/** Solves an in-band challenge the gateway sent and returns the token it buys. */
async function redeemInBand({ challenges, url }, headers) {
  const pow = (Array.isArray(challenges) ? challenges : []).find((c) => c?.type === wire.challenge_types.pow && c.algorithm === POW_ALGORITHM
    && Number.isInteger(c.difficulty) && c.difficulty >= 0 && c.difficulty <= MAX_DIFFICULTY && verifyUrlFor(url, c.verify_url));
  if (!pow) throw new Error('in-band challenge without a proof of work to answer on the gateway\'s origin');
  const nonce = await solvePow(pow.salt, pow.difficulty, { deadline: Date.now() + IN_BAND_SOLVE_BUDGET_MS });
  const body = await redeem(fetch, verifyUrlFor(url, pow.verify_url), headers, { challenge_id: pow.challenge_id, solution: { nonce } });
  return body.access_token;
}

/**
 * The challenges of an in-band answer (docs/PROTOCOL.md §4): a refused tool call's `isError`
 * result carries them in `structuredContent.challenges`, any other request's JSON-RPC error 402
 * in `error.data.challenges`. `undefined` for anything else.
 */
function inBandChallenges(m) {
  if (m?.id === undefined || m.id === null) return undefined;
  if (m.error?.code === IN_BAND) return m.error.data?.challenges;
  if (m.result?.isError === true) return m.result.structuredContent?.challenges;
  return undefined;
}

/**
 * A fetch for a client that has not declared 402s, so gets challenges in-band. It records the
 * in-band answers of responses the gateway marked as its own, by request id, in `offers`: an
 * origin's look-alike is not marked, so it passes to the client unanswered.
 */
function inBandFetch(offers) {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    headers.delete(wire.headers.accept_402);
    const response = await fetch(input, { ...init, headers });
    if (!isGatewayChallenge(response)) return response;
    // Read here, and the SDK reads what was read: a marked answer too large or too slow to read
    // is no in-band challenge, and passes on cut off where the read stopped.
    const read = await readCapped(response);
    for (const m of [parseJson(read.bytes)].flat()) {
      const challenges = inBandChallenges(m);
      if (challenges !== undefined) offers.set(m.id, { challenges, url: requestUrl(input) });
    }
    return read.response;
  };
}

async function main() {
  const { url, headers, declare402, maxSatsPerInvoice, maxSatsTotal, identity } = parseArgs(process.argv.slice(2), process.env);
  const offers = new Map(); // request id -> the in-band challenges the gateway sent for it
  // Without the 402 declaration the gateway answers in-band, which this bridge also handles.
  const fetchFn = declare402
    ? gatehouseFetch({ wallet: lnbitsWallet(), maxSatsPerInvoice, maxSatsTotal, identityHeaders: identity })
    : inBandFetch(offers);
  // Every body the SDK reads from the gateway is bounded per message, as stdin is.
  const bounded = async (input, init) => limitMessages(await fetchFn(input, init));
  const remote = new StreamableHTTPClientTransport(url, { fetch: bounded, requestInit: { headers }, authProvider: oauthProvider() });
  const local = new StdioServerTransport(process.stdin, process.stdout, { maxBufferSize: MAX_MESSAGE_BYTES });
  const pending = new Map(); // request id -> the request, for a resend after an in-band challenge
  let token;

  const forward = (message) => remote.send(message).catch((err) => {
    if (message.id !== undefined) local.send({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: `gateway: ${err.message}` } });
  });
  local.onmessage = (message) => {
    if (message.method && message.id !== undefined) pending.set(message.id, message);
    if (token && message.method && message.params !== undefined) {
      message = { ...message, params: { ...message.params, _meta: { ...message.params._meta, [TOKEN_KEY]: token } } };
    }
    forward(message);
  };
  remote.onmessage = async (message) => {
    const original = pending.get(message.id);
    const offer = message.id === undefined ? undefined : offers.get(message.id);
    if (offer) offers.delete(message.id);
    if (offer && inBandChallenges(message) !== undefined && original && !original.__retried) {
      try {
        token = await redeemInBand(offer, identityHeaders(identity, headers));
        const params = { ...(original.params ?? {}), _meta: { ...(original.params?._meta ?? {}), [TOKEN_KEY]: token } };
        forward({ ...original, params, __retried: undefined });
        pending.set(message.id, { ...original, __retried: true });
        return;
      } catch (err) {
        console.error(`gatehouse: ${err.message}`);
      }
    }
    if (message.id !== undefined && (message.result !== undefined || message.error !== undefined)) pending.delete(message.id);
    local.send(message);
  };
  remote.onerror = (err) => console.error(`gatehouse: ${err.message}`);
  local.onclose = () => remote.close().finally(() => process.exit(0));
  await remote.start();
  await local.start();
}

main().catch((err) => {
  console.error(`gatehouse: ${err.message}`);
  process.exit(1);
});
