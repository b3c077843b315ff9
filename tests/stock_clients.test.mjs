// What stock MCP clients with no payment handler meet past a quota under the gateway's defaults
// (in-band answers on): the official TypeScript SDK as released for 2025-11-25 (1.32) and for
// 2025-06-18 (1.22). Each must surface the answer readably, a tool result that says payment is
// required for `tools/call` and a JSON-RPC error with code 402 for anything else, and never see a
// code its revision defines otherwise (2025-11-25's -32042) or reserves (-32000…-32099). The
// Python SDK 2.x, which speaks 2026-07-28, is in revision_2026.test.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientLatest } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportLatest } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as Client0618 } from 'mcp-sdk-2025-06-18/client/index.js';
import { StreamableHTTPClientTransport as Transport0618 } from 'mcp-sdk-2025-06-18/client/streamableHttp.js';
import { startOrigin } from '../demo/origin.mjs';
import { startGateway, testKey } from './support/gateway.mjs';

const SDKS = [
  { revision: '2025-11-25', Client: ClientLatest, Transport: TransportLatest },
  { revision: '2025-06-18', Client: Client0618, Transport: Transport0618 },
];

/** Every JSON-RPC error code in a response body, JSON or SSE. */
const codesIn = (text) => [...text.matchAll(/"code"\s*:\s*(-?\d+)/g)].map((m) => Number(m[1]));

let origin, gateway;
before(async () => {
  origin = await startOrigin();
  // The defaults but for a small quota: no IN_BAND_CHALLENGES, no route option.
  gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '4', RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', IN_BAND_CHALLENGES: undefined } });
});
after(async () => {
  await gateway?.dispose();
  await origin?.close();
});

for (const { revision, Client, Transport } of SDKS) {
  describe(`a stock client of ${revision} (the official TypeScript SDK)`, () => {
    const seen = { versions: new Set(), codes: [], statuses: [] };
    let client;
    before(async () => {
      // Watches the wire without changing it: the revision each request declares, and every
      // status and error code the gateway answers with.
      const watching = async (input, init) => {
        const declared = new Headers(init?.headers).get('mcp-protocol-version');
        if (declared) seen.versions.add(declared);
        const res = await fetch(input, init);
        seen.statuses.push(res.status);
        if ((res.headers.get('content-type') ?? '').startsWith('application/json')) seen.codes.push(...codesIn(await res.clone().text()));
        return res;
      };
      const transport = new Transport(new URL(gateway.mcpUrl), { fetch: watching, requestInit: { headers: { 'x-api-key': testKey(`stock-${revision}`) } } });
      client = new Client({ name: `stock-${revision}`, version: '1.0.0' });
      await client.connect(transport);
    });
    after(() => client?.close());

    test('a refused tools/call is a tool result that says payment is required and carries the offers', async () => {
      let refused;
      for (let i = 0; i < 10 && !refused; i++) {
        const r = await client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
        if (r.isError) refused = r;
        else assert.match(r.content[0].text, new RegExp(`m${i}$`));
      }
      assert.ok(refused, 'the quota of 4 ran out within 10 calls');
      assert.equal(refused.content[0].type, 'text');
      const wrapper = JSON.parse(refused.content[0].text)['x402/error'];
      assert.equal(wrapper.code, 402);
      assert.match(refused.content[1].text, /^Payment required: .*quota is spent.*solve the proof of work/);
      const pow = refused.structuredContent.challenges.find((c) => c.type === 'pow');
      assert.ok(pow.difficulty > 0 && pow.salt && pow.verify_url.endsWith('/api/verify-challenge'), JSON.stringify(pow));
      assert.deepEqual([...seen.versions], [revision], 'the client negotiated its own revision');
    });

    test('any other method past the quota is a JSON-RPC error with code 402, which the SDK surfaces', async () => {
      await assert.rejects(client.listTools(), (err) => {
        assert.equal(err.code, 402);
        assert.match(err.message, /Payment required/);
        return true;
      });
    });

    test('no answer was an HTTP error, and no code was one the revision defines otherwise or reserves', () => {
      assert.ok(seen.statuses.every((s) => s >= 200 && s < 300), `statuses ${seen.statuses}`);
      assert.ok(seen.codes.includes(402));
      for (const code of seen.codes) assert.ok(code === 402 || code < -32099 || code > -32000, `code ${code}`);
    });
  });
}
