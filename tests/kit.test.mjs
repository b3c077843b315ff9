// The client kit end to end: `gatehouse connect`, a stdio bridge, lets the official SDK's stdio
// client (as a desktop assistant or IDE would run it) use a remote server behind the gateway,
// past its quota, through 402s, in-band challenges and OAuth.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startOrigin } from '../demo/origin.mjs';
import { startAuthServer } from '../demo/auth-server.mjs';
import { ROOT, freePort, startGateway, testKey } from './support/gateway.mjs';

const BRIDGE = join(ROOT, 'clients', 'js', 'bin', 'gatehouse.mjs');
let origin;
before(async () => { origin = await startOrigin(); });
after(async () => { await origin?.close(); });

async function throughBridge(url, args = [], env = {}, calls = 20) {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BRIDGE, 'connect', url, ...args], env: { ...process.env, ...env }, stderr: 'pipe' });
  const client = new Client({ name: 'stdio-desktop-client', version: '1.0.0' });
  await client.connect(transport);
  try {
    for (let i = 0; i < calls; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { message: `via stdio ${i}` } });
      assert.equal(r.content[0].text, `via stdio ${i}`);
    }
  } finally {
    await client.close();
  }
}

test('a stdio client runs past its quota through the bridge (402s)', async () => {
  const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '5', TOKEN_GRANT_REQUESTS: '5', RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false' } });
  try {
    await throughBridge(gateway.mcpUrl, ['--header', `x-api-key:${testKey('bridge-402')}`]);
  } finally {
    await gateway.dispose();
  }
});

test('the bridge answers in-band challenges too', async () => {
  const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '5', TOKEN_GRANT_REQUESTS: '5', RATE_KEY_HEADER: 'x-api-key', IN_BAND_CHALLENGES: 'true', POW_ADAPTIVE: 'false' } });
  try {
    await throughBridge(gateway.mcpUrl, ['--header', `x-api-key:${testKey('bridge-in-band')}`, '--no-declare-402']);
  } finally {
    await gateway.dispose();
  }
});

test('the bridge gets an OAuth token for a gateway that requires one', async () => {
  const as = await startAuthServer();
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const gateway = await startGateway({ originUrl: origin.url, port, vars: { OAUTH_MODE: 'required', OAUTH_ISSUER: as.issuer, OAUTH_RESOURCE: resource, OAUTH_REQUIRED_SCOPES: 'mcp:tools' } });
  try {
    await throughBridge(resource, [], { GATEHOUSE_OAUTH_CLIENT_ID: 'agent-basic', GATEHOUSE_OAUTH_CLIENT_SECRET: 'agent-basic-secret', GATEHOUSE_OAUTH_SCOPE: 'mcp:tools' }, 5);
  } finally {
    await gateway.dispose();
    await as.close();
  }
});

test('the official Python MCP SDK gets through with the httpx.Auth flow', async () => {
  const { execFile } = await import('node:child_process');
  const gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '5', TOKEN_GRANT_REQUESTS: '5', RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false' } });
  try {
    const python = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
    const out = await new Promise((resolve, reject) => execFile(python, [join(ROOT, 'tests', 'python_mcp_client.py'), gateway.mcpUrl, testKey('python-sdk'), '15'], { timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
    const result = JSON.parse(out.trim().split('\n').at(-1));
    assert.equal(result.ok, 15);
    assert.ok(result.redeemed >= 2, `${result.redeemed} challenges redeemed`);
  } finally {
    await gateway.dispose();
  }
});
