// The gateway as an OAuth 2.1 resource server (MCP authorization spec), against a real
// authorization server (oidc-provider) issuing JWT access tokens with resource indicators, and
// the official SDK client discovering everything from the gateway's 401.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { startAuthServer } from '../demo/auth-server.mjs';
import { startOrigin } from '../demo/origin.mjs';
import { freePort, startGateway } from './support/gateway.mjs';
import { connect } from './support/mcp.mjs';
import { exhaust, redeem, solve } from './support/pow-flow.mjs';

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'oauth-test', version: '1' } } });
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function tokenFor(as, client, { resource, scope = 'mcp:tools' }) {
  const meta = await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json();
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).access_token;
}

function oauthVars(as, resource, extra = {}) {
  return {
    OAUTH_MODE: 'required',
    OAUTH_ISSUER: as.issuer,
    OAUTH_RESOURCE: resource,
    OAUTH_REQUIRED_SCOPES: 'mcp:tools',
    OAUTH_TOOL_SCOPES: 'progress=mcp:admin',
    OAUTH_TIERS: 'basic=8/3600,production=100/3600',
    OAUTH_LEEWAY_SECONDS: '0',
    ...extra,
  };
}

describe('OAuth required', () => {
  let as, origin, gateway, resource;
  const seen = [];
  before(async () => {
    [as, origin] = await Promise.all([startAuthServer(), startOrigin({ onRequest: (r) => seen.push(r) })]);
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    gateway = await startGateway({ originUrl: origin.url, port, vars: oauthVars(as, resource) });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
    await as?.close();
  });

  test('protected-resource metadata is served at both well-known paths', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await fetch(`${gateway.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.deepEqual(await res.json(), {
        resource,
        authorization_servers: [as.issuer],
        scopes_supported: ['mcp:tools', 'mcp:admin'],
        bearer_methods_supported: ['header'],
        resource_name: 'Gatehouse',
      });
    }
    const server = await (await fetch(`${gateway.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(server.issuer, as.issuer);
    assert.ok(server.token_endpoint.startsWith(as.issuer));
  });

  test('no token is a 401 pointing at the metadata', async () => {
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: MCP, body: INITIALIZE });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${gateway.url}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
  });

  test('the SDK client discovers the server from the 401, gets a token and calls tools; the origin never sees it', async () => {
    seen.length = 0;
    const authProvider = new ClientCredentialsProvider({ clientId: 'agent-basic', clientSecret: 'agent-basic-secret', scope: 'mcp:tools', expectedIssuer: as.issuer });
    const { client, close } = await connect(gateway.mcpUrl, { authProvider });
    const result = await client.callTool({ name: 'echo', arguments: { message: 'authorized' } });
    assert.equal(result.content[0].text, 'authorized');
    assert.ok(authProvider.tokens()?.access_token, 'the provider holds a token');
    await close();
    assert.ok(seen.length > 0);
    assert.ok(seen.every((r) => r.headers.authorization === undefined), 'no token passthrough');
  });

  test('a token for another audience is a 401 invalid_token', async () => {
    const token = await tokenFor(as, 'agent-basic', { resource: 'https://other.example/mcp' });
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${token}` }, body: INITIALIZE });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /^Bearer error="invalid_token", error_description="The access token is not for this resource", resource_metadata="/);
    assert.equal((await res.json()).error, 'invalid_token');
  });

  test('a tampered token is a 401', async () => {
    const token = await tokenFor(as, 'agent-production', { resource });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.scope = 'mcp:tools mcp:admin';
    const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${forged}` }, body: INITIALIZE });
    assert.equal(res.status, 401);
  });

  test('a missing scope is a 403 naming it, and the SDK steps up and succeeds', async () => {
    const token = await tokenFor(as, 'agent-basic', { resource });
    const call = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'progress', arguments: { steps: 1 } } });
    const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${token}` }, body: call });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="${gateway.url}/.well-known/oauth-protected-resource/mcp", error_description="This call needs scope mcp:admin"`);

    // The SDK (1.32.2) meets the 403 and re-runs its auth flow with the challenged scope, but its
    // client-credentials path asks the token endpoint for the provider's configured scope. So the
    // provider here is told the challenged scope, as an agent's own provider would be.
    const statuses = [];
    const authProvider = new ClientCredentialsProvider({ clientId: 'agent-basic', clientSecret: 'agent-basic-secret', scope: 'mcp:tools', expectedIssuer: as.issuer });
    const recording = async (url, init) => {
      const r = await fetch(url, init);
      statuses.push(r.status);
      const challenged = r.status === 403 && r.headers.get('www-authenticate')?.match(/scope="([^"]+)"/)?.[1];
      if (challenged) authProvider.clientMetadata.scope = challenged;
      return r;
    };
    authProvider.saveTokens({ access_token: token, token_type: 'Bearer' });
    const { client, close } = await connect(gateway.mcpUrl, { fetch: recording, authProvider });
    const result = await client.callTool({ name: 'progress', arguments: { steps: 1, interval_ms: 0 } });
    assert.equal(result.content[0].text, 'counted to 1');
    assert.ok(statuses.includes(403), 'the SDK met the 403 and stepped up');
    assert.match(authProvider.tokens().scope ?? JSON.parse(Buffer.from(authProvider.tokens().access_token.split('.')[1], 'base64url')).scope, /mcp:admin/);
    await close();
  });

  test('an identity\'s tier decides its quota, and a proof-of-work token is bound to that identity', async () => {
    const basic = await tokenFor(as, 'agent-basic', { resource });
    const production = await tokenFor(as, 'agent-production', { resource });
    const call = (token, extra = {}) => fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${token}`, ...extra }, body: INITIALIZE });
    const basicStatuses = [];
    for (let i = 0; i < 12; i++) basicStatuses.push((await call(basic)).status);
    assert.ok(basicStatuses.includes(402), `basic (8/hour) meets its quota: ${basicStatuses}`);
    const policy = (await call(production)).headers.get('ratelimit-policy');
    assert.equal(policy, '"hour";q=100;w=3600', 'production has its own, larger quota');

    const res = await exhaust(gateway.mcpUrl, { authorization: `Bearer ${basic}` });
    const [c] = (await res.json()).challenges;
    const bought = await redeem(c.verify_url, { challenge_id: c.challenge_id, solution: { nonce: await solve(c) } }, { authorization: `Bearer ${basic}` });
    assert.equal(bought.status, 200);
    const sub = JSON.parse(Buffer.from(bought.body.access_token.split('.')[1], 'base64url')).sub;
    assert.equal(sub, 'sub:agent-basic');
    assert.equal((await call(basic, { 'x-access-token': bought.body.access_token })).status, 200);
    assert.equal((await call(production, { 'x-access-token': bought.body.access_token })).status, 401, 'another identity cannot use it');
  });
});

describe('OAuth with short-lived tokens, and optional mode', () => {
  let as, origin;
  before(async () => {
    [as, origin] = await Promise.all([startAuthServer({ accessTokenTTL: 1 }), startOrigin()]);
  });
  after(async () => {
    await origin?.close();
    await as?.close();
  });

  test('tokens naming unknown keys refresh the JWKS at most once per 30 s', async () => {
    const hits = [];
    const counted = await startAuthServer({ onRequest: (r) => r.url.startsWith('/jwks') && hits.push(r.url) });
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const gateway = await startGateway({ originUrl: origin.url, port, vars: oauthVars(counted, resource) });
    try {
      const good = await tokenFor(counted, 'agent-basic', { resource });
      assert.equal((await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${good}` }, body: INITIALIZE })).status, 200);
      const [h, p, s] = good.split('.');
      for (let i = 0; i < 20; i++) {
        const header = { ...JSON.parse(Buffer.from(h, 'base64url')), kid: `made-up-${i}` };
        const forged = [Buffer.from(JSON.stringify(header)).toString('base64url'), p, s].join('.');
        const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${forged}` }, body: INITIALIZE });
        assert.equal(res.status, 401);
      }
      assert.ok(hits.length <= 2, `${hits.length} JWKS fetches`);
    } finally {
      await gateway.dispose();
      await counted.close();
    }
  });

  test('an expired token is a 401 invalid_token', async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const gateway = await startGateway({ originUrl: origin.url, port, vars: oauthVars(as, resource) });
    try {
      const token = await tokenFor(as, 'agent-basic', { resource });
      await new Promise((r) => setTimeout(r, 2_100));
      const res = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: `Bearer ${token}` }, body: INITIALIZE });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate'), /error="invalid_token", error_description="The access token expired"/);
    } finally {
      await gateway.dispose();
    }
  });

  test('optional mode admits anonymous callers by address and still refuses bad tokens', async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const gateway = await startGateway({ originUrl: origin.url, port, vars: oauthVars(as, resource, { OAUTH_MODE: 'optional' }) });
    try {
      const anonymous = await fetch(gateway.mcpUrl, { method: 'POST', headers: MCP, body: INITIALIZE });
      assert.equal(anonymous.status, 200);
      assert.equal(anonymous.headers.get('ratelimit-policy'), '"minute";q=60;w=60');
      const bad = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization: 'Bearer not-a-token' }, body: INITIALIZE });
      assert.equal(bad.status, 401);
      const scoped = await fetch(gateway.mcpUrl, { method: 'POST', headers: MCP, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'progress', arguments: {} } }) });
      assert.equal(scoped.status, 401, 'a scoped tool needs a token even in optional mode');
    } finally {
      await gateway.dispose();
    }
  });
});
