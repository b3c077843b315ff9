#!/usr/bin/env node
// gatehouse connect <url>: a stdio MCP bridge, so that any stdio MCP client (a desktop assistant,
// an IDE) can use a remote MCP server behind Gatehouse. Messages pass through unchanged; on the
// way it answers 402 challenges (the fetch wrapper), in-band challenges (JSON-RPC -32042: it
// solves, then resends the call with the token in `_meta`), and OAuth (client credentials).
//
//   gatehouse connect https://gw.example.com/mcp [--header name:value]... [--no-declare-402]
//
// Environment: GATEHOUSE_OAUTH_CLIENT_ID, GATEHOUSE_OAUTH_CLIENT_SECRET, GATEHOUSE_OAUTH_SCOPE
// for OAuth; LNBITS_URL and LNBITS_ADMIN_KEY to pay L402 invoices from an LNbits wallet.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { gatehouseFetch, solvePow } from '../index.mjs';

const IN_BAND = -32042;

function parseArgs(argv) {
  const [command, url, ...rest] = argv;
  if (command !== 'connect' || !url) {
    console.error('usage: gatehouse connect <url> [--header name:value]... [--no-declare-402]');
    process.exit(2);
  }
  const headers = {};
  let declare402 = true;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--header' && rest[i + 1]?.includes(':')) {
      const [k, ...v] = rest[++i].split(':');
      headers[k.trim()] = v.join(':').trim();
    } else if (rest[i] === '--no-declare-402') {
      declare402 = false;
    }
  }
  return { url: new URL(url), headers, declare402 };
}

function lnbitsWallet() {
  const { LNBITS_URL: base, LNBITS_ADMIN_KEY: key } = process.env;
  if (!base || !key) return undefined;
  return {
    async payInvoice({ invoice }) {
      const res = await fetch(`${base}/api/v1/payments`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ out: true, bolt11: invoice }) });
      const paid = await res.json();
      if (!res.ok) throw new Error(`LNbits refused the payment: ${res.status}`);
      if (paid.preimage) return { preimage: paid.preimage };
      const status = await (await fetch(`${base}/api/v1/payments/${paid.payment_hash}`, { headers: { 'x-api-key': key } })).json();
      return { preimage: status.preimage };
    },
  };
}

function oauthProvider() {
  const { GATEHOUSE_OAUTH_CLIENT_ID: clientId, GATEHOUSE_OAUTH_CLIENT_SECRET: clientSecret, GATEHOUSE_OAUTH_SCOPE: scope } = process.env;
  return clientId && clientSecret ? new ClientCredentialsProvider({ clientId, clientSecret, scope }) : undefined;
}

/** Solves an in-band challenge and returns the token it buys. */
async function redeemInBand(challenges, headers, fetchFn) {
  const pow = challenges?.find((c) => c.type === 'pow');
  if (!pow) throw new Error('in-band challenge without a proof of work');
  const nonce = await solvePow(pow.salt, pow.difficulty);
  const res = await fetchFn(pow.verify_url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ challenge_id: pow.challenge_id, solution: { nonce } }) });
  const body = await res.json();
  if (!res.ok) throw new Error(`redemption refused: ${res.status} ${body.error}`);
  return body.access_token;
}

async function main() {
  const { url, headers, declare402 } = parseArgs(process.argv.slice(2));
  const wrapped = gatehouseFetch({ wallet: lnbitsWallet() });
  // Without the 402 declaration the gateway answers in-band, which this bridge also handles.
  const fetchFn = declare402 ? wrapped : (input, init) => {
    const h = new Headers(init?.headers);
    h.delete('gatehouse-accept');
    return fetch(input, { ...init, headers: h });
  };
  const remote = new StreamableHTTPClientTransport(url, { fetch: fetchFn, requestInit: { headers }, authProvider: oauthProvider() });
  const local = new StdioServerTransport();
  const pending = new Map(); // request id -> the request, for a resend after an in-band challenge
  let token;

  const forward = (message) => remote.send(message).catch((err) => {
    if (message.id !== undefined) local.send({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: `gateway: ${err.message}` } });
  });
  local.onmessage = (message) => {
    if (message.method && message.id !== undefined) pending.set(message.id, message);
    if (token && message.method && message.params !== undefined) {
      message = { ...message, params: { ...message.params, _meta: { ...message.params._meta, 'gatehouse/access_token': token } } };
    }
    forward(message);
  };
  remote.onmessage = async (message) => {
    const original = pending.get(message.id);
    if (message.error?.code === IN_BAND && original && !original.__retried) {
      try {
        token = await redeemInBand(message.error.data?.challenges, headers, fetch);
        const params = { ...(original.params ?? {}), _meta: { ...(original.params?._meta ?? {}), 'gatehouse/access_token': token } };
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
