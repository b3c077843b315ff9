// The peers must refuse what the gateway refuses, or their rows measure a lesser check. Each check
// sends one request to a peer and throws unless it is answered as the gateway would answer it.
// `send(extraHeaders, body)` sends the bench's tools/call (or `body`) to the peer with the fast
// token and its client's key, `extraHeaders` over them; `token` is that access token.
import { createHmac, randomUUID } from 'node:crypto';
import { TEST_SIGNING_KEYS } from '../tests/support/gateway.mjs';
import { signApiKey } from '../tests/support/keys.mjs';
import { CALL } from './targets.mjs';

/** One character of a compact JWS changed inside its signature, clear of the last character's
 * spare bits: the same shape, a MAC that no longer matches. */
export function tamper(jws) {
  const at = jws.length - 10;
  return `${jws.slice(0, at)}${jws[at] === 'A' ? 'B' : 'A'}${jws.slice(at + 1)}`;
}

/** `token` with its claims changed by `edit`, signed again with the test signing key: a token the
 * gateway could have issued (a fresh jti, so no counter has seen it). */
export function resign(token, edit) {
  const [head, body] = token.split('.');
  const [, secret] = TEST_SIGNING_KEYS.split(',')[0].split(/:(.*)/s);
  const claims = edit(JSON.parse(Buffer.from(body, 'base64url').toString()));
  const input = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function expect(label, what, status, r) {
  const got = await r;
  if (got.status !== status) throw new Error(`${label}: ${what}: expected ${status}, got ${got.status} ${got.body.slice(0, 120)}`);
}

/** What both peers refuse: a forged token, another user agent, another client's key. */
export async function checkPeer(label, send, { token }) {
  await expect(label, 'the genuine token', 200, send({}));
  await expect(label, 'a forged signature', 401, send({ 'x-access-token': tamper(token) }));
  await expect(label, 'another user agent', 401, send({ 'user-agent': 'other/1' }));
  await expect(label, 'another client key', 401, send({ 'x-api-key': signApiKey(TEST_SIGNING_KEYS, 'other') }));
}

/** What the hardened peer refuses besides (`keyId` the client the token was bought for): a
 * tampered key, a key signed with another secret, an access token passed as a key, no key, a body that is not JSON-RPC or is too large, and a spent grant (a batch counting each
 * of its calls). */
export async function checkHardenedPeer(label, send, { token, keyId = 'fast' }) {
  await checkPeer(label, send, { token });
  const key = signApiKey(TEST_SIGNING_KEYS, keyId);
  await expect(label, 'a tampered key', 401, send({ 'x-api-key': tamper(key) }));
  await expect(label, 'a key signed with another secret', 401, send({ 'x-api-key': signApiKey('k1:another-signing-key-0123456789abcdef0123', keyId) }));
  await expect(label, 'an access token as the key', 401, send({ 'x-api-key': `gk_${token}` }));
  await expect(label, 'no key', 401, send({ 'x-api-key': '' }));
  await expect(label, 'a body that is not JSON', 400, send({}, '{"jsonrpc":'));
  await expect(label, 'a body that is not JSON-RPC', 400, send({}, JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'ping' })));
  await expect(label, 'an empty batch', 400, send({}, '[]'));
  await expect(label, 'a body over 1 MiB', 413, send({}, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(1024 * 1024) } })));
  // A grant of 3: a batch of two calls and one call use it up, and the next call is refused.
  const three = { 'x-access-token': resign(token, (c) => ({ ...c, grant: 3, jti: `bench-${randomUUID()}` })) };
  const call = JSON.parse(CALL);
  await expect(label, 'a batch of two on a grant of three', 200, send(three, JSON.stringify([call, { ...call, id: 2 }])));
  await expect(label, 'the third call of three', 200, send(three));
  await expect(label, 'a call past a spent grant', 402, send(three));
  // The same for a batch that would overdraw: two calls with one left.
  const two = { 'x-access-token': resign(token, (c) => ({ ...c, grant: 2, jti: `bench-${randomUUID()}` })) };
  await expect(label, 'the first call of two', 200, send(two));
  await expect(label, 'a batch of two with one call left', 402, send(two, JSON.stringify([call, { ...call, id: 2 }])));
  await expect(label, 'the last call of two, after the refused batch', 200, send(two));
  await expect(label, 'an expired token', 401, send({ 'x-access-token': resign(token, (c) => ({ ...c, exp: c.iat, jti: `bench-${randomUUID()}` })) }));
}
