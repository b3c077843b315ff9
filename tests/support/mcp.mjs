// An MCP client on the official TypeScript SDK, connected over Streamable HTTP.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export async function connect(url, { fetch, headers = {}, name = 'gatehouse-test-client', authProvider } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch, requestInit: { headers }, authProvider });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, close: () => client.close() };
}
