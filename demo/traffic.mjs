// Demo traffic for `npm start`: a few agents on the official MCP SDK run past their quota through
// the JS wrapper: two solving proofs of work, one paying L402 invoices from the local LNbits payer
// wallet, and one paying x402 per call from a funded account on the local chain, so the dashboard
// has something real to show.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { gatehouseFetch } from '../clients/js/index.mjs';

/** Mints an API key for a demo agent through the admin API, as an operator would. */
async function mintKey(mcpUrl, adminSecret, id) {
  const res = await fetch(new URL('/admin/api/keys', mcpUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  if (res.status !== 201) throw new Error(`minting a key for ${id}: ${res.status}`);
  return (await res.json()).key;
}

async function agent(mcpUrl, adminSecret, name, calls, options = {}) {
  const headers = { 'x-api-key': await mintKey(mcpUrl, adminSecret, name) };
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: gatehouseFetch(options), requestInit: { headers } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  for (let i = 0; i < calls; i++) await client.callTool({ name: 'echo', arguments: { message: `${name} ${i}` } });
  await client.close();
}

/** Runs the demo agents; resolves to a one-line summary. */
export async function demoTraffic(mcpUrl, { pay, adminSecret, x402Signer } = {}) {
  await Promise.all([
    agent(mcpUrl, adminSecret, 'demo-agent-pow-1', 80),
    agent(mcpUrl, adminSecret, 'demo-agent-pow-2', 70),
    ...(pay ? [agent(mcpUrl, adminSecret, 'demo-agent-l402', 70, { wallet: { payInvoice: async ({ invoice }) => ({ preimage: await pay(invoice) }) } })] : []),
    ...(x402Signer ? [agent(mcpUrl, adminSecret, 'demo-agent-x402', 70, { x402: { signer: x402Signer } })] : []),
  ]);
  return `demo traffic: ${2 + Boolean(pay) + Boolean(x402Signer)} agents ran past a 60/min quota and kept working`;
}
