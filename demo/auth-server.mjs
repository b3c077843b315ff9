// A real OAuth 2.1 authorization server for local use and tests: `oidc-provider` (a certified
// OpenID provider) issuing JWT access tokens with resource indicators (RFC 8707) through the
// client-credentials grant, signed RS256 or ES256 with keys made at start.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

export const SCOPES = ['mcp:tools', 'mcp:admin'];

/** The demo clients: id, secret, the tier claim their tokens carry, and their signing algorithm. */
export const DEMO_CLIENTS = [
  { client_id: 'agent-basic', client_secret: 'agent-basic-secret', tier: 'basic', alg: 'RS256' },
  { client_id: 'agent-production', client_secret: 'agent-production-secret', tier: 'production', alg: 'ES256' },
];

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return { keys: [{ ...rsa, kid: `rs-${randomUUID().slice(0, 8)}`, alg: 'RS256', use: 'sig' }, { ...ec, kid: `es-${randomUUID().slice(0, 8)}`, alg: 'ES256', use: 'sig' }] };
}

/**
 * Starts the authorization server on 127.0.0.1:`port` (0: any). `accessTokenTTL` is in seconds;
 * `onRequest` sees each request's method and URL.
 * Resolves to `{ issuer, close }`.
 */
export async function startAuthServer({ port = 0, clients = DEMO_CLIENTS, accessTokenTTL = 600, onRequest = () => {} } = {}) {
  const server = http.createServer();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const byId = new Map(clients.map((c) => [c.client_id, c]));
  const provider = new Provider(issuer, {
    clients: clients.map(({ client_id, client_secret }) => ({
      client_id,
      client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES.join(' '),
    })),
    jwks: signingKeys(),
    scopes: SCOPES,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Every resource is an MCP server here; the token's audience is the one requested.
        getResourceServerInfo: (ctx, resource, client) => ({
          scope: SCOPES.join(' '),
          audience: resource,
          accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: byId.get(client.clientId)?.alg ?? 'RS256' } },
        }),
      },
    },
    extraTokenClaims: (ctx, token) => ({ tier: byId.get(token.clientId)?.tier }),
  });
  provider.on('server_error', (ctx, err) => console.error('auth server error', err));
  server.on('request', (req) => onRequest({ method: req.method, url: req.url }));
  server.on('request', provider.callback());
  return {
    issuer,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--port');
  const { issuer } = await startAuthServer({ port: i > 0 ? Number(process.argv[i + 1]) : 8791 });
  console.log(`authorization server at ${issuer}`);
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
}
