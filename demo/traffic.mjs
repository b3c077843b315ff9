// Demo traffic for `npm start`: a few agents on the official MCP SDK run past their quota through
// the JS wrapper, one solving proofs of work and one paying L402 invoices from the local LNbits
// payer wallet, so the dashboard has something real to show.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { gatehouseFetch } from '../clients/js/index.mjs';

async function agent(mcpUrl, name, calls, options = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: gatehouseFetch(options), requestInit: { headers: { 'x-api-key': name } } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  for (let i = 0; i < calls; i++) await client.callTool({ name: 'echo', arguments: { message: `${name} ${i}` } });
  await client.close();
}

/** Runs the demo agents; resolves to a one-line summary. */
export async function demoTraffic(mcpUrl, { pay } = {}) {
  await Promise.all([
    agent(mcpUrl, 'demo-agent-pow-1', 80),
    agent(mcpUrl, 'demo-agent-pow-2', 70),
    ...(pay ? [agent(mcpUrl, 'demo-agent-l402', 70, { wallet: { payInvoice: async ({ invoice }) => ({ preimage: await pay(invoice) }) } })] : []),
  ]);
  return `demo traffic: ${pay ? 3 : 2} agents ran past a 60/min quota and kept working`;
}
