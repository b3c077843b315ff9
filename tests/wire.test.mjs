// The names on the wire, from the built gateway in workerd, against `clients/js/wire.json`, the
// one list the clients read (docs/PROTOCOL.md §7): a 402, a redemption and its errors, 401s, an
// in-band answer and the token handed back in `_meta`, a 429, and the JSON-RPC errors each carry
// the file's header names, codes and statuses, and no gateway header the file does not name. The
// core, the Rust kit and the Python flow are held to the same file natively or below.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startOrigin } from '../demo/origin.mjs';
import { digest, leadingZeroBits, solvePow, wire } from '../clients/js/index.mjs';
import { ROOT, startGateway, testKey } from './support/gateway.mjs';
import { JSON_RPC_CALL, exhaust } from './support/pow-flow.mjs';

const { headers: H, header_values: V, errors: E, jsonrpc: RPC } = wire;
const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'wire', version: '1' } } };
/** Standard fields any answer may carry: none is a name of the gateway's own. */
const GENERIC = new Set(['content-type', 'content-length', 'content-encoding', 'cache-control', 'date', 'vary', 'allow', 'accept', 'connection', 'keep-alive', 'transfer-encoding']);
const NAMED = new Set(Object.values(H));

/** Every field of `res` is generic or named in the file. */
function onlyFileNames(res, what) {
  for (const [name] of res.headers) assert.ok(GENERIC.has(name) || NAMED.has(name), `${what}: \`${name}\` is not in wire.json`);
}

/** A JSON error answer: the file's status for its code, and only the file's header names. */
async function errorAnswer(res, code, what) {
  const body = await res.json();
  assert.ok(Object.hasOwn(E, code), `${code} is in wire.json`);
  assert.deepEqual([res.status, body.error], [E[code], code], what);
  onlyFileNames(res, what);
  return body;
}

async function jsonRpcError(res, code, status, what) {
  const body = await res.json();
  assert.deepEqual([res.status, body.error?.code], [status, code], what);
  onlyFileNames(res, what);
  return body;
}

const post = (url, headers, body) => fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

let origin;
before(async () => { origin = await startOrigin(); });
after(async () => { await origin?.close(); });

describe('against the built gateway', () => {
  let gateway, verifyUrl;
  before(async () => {
    gateway = await startGateway({ originUrl: origin.url, vars: { QUOTA_PER_MINUTE: '1', TOKEN_GRANT_REQUESTS: '5', RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', IN_BAND_CHALLENGES: 'true', LEGACY_USER_AGENTS: 'LegacyAgent/*', REDEEM_PER_MINUTE: '1000' } });
    verifyUrl = `${gateway.url}${wire.paths.verify_challenge}`;
  });
  after(() => gateway?.dispose());

  test('a 402, its redemption and the token carry the file\'s names', async () => {
    const key = { 'x-api-key': testKey('wire-402') };
    const res = await exhaust(gateway.mcpUrl, { ...key, [H.accept_402]: V.accept_402 });
    assert.equal(res.status, E.quota_exhausted);
    assert.equal(res.headers.get(H.challenge_marker), V.challenge_marker);
    for (const name of [H.ratelimit, H.ratelimit_policy, H.retry_after]) assert.ok(res.headers.get(name), name);
    assert.equal(res.headers.get(H.www_authenticate).split(' ')[0], wire.schemes.pow);
    const body = await errorAnswer(res, 'quota_exhausted', '402');
    const [pow] = body.challenges;
    assert.deepEqual([pow.type, pow.algorithm, pow.verify_url], [wire.challenge_types.pow, wire.pow_algorithm, verifyUrl]);

    const nonce = await solvePow(pow.salt, pow.difficulty);
    const redeemed = await post(verifyUrl, key, { challenge_id: pow.challenge_id, solution: { nonce } });
    const token = await redeemed.json();
    assert.equal(redeemed.status, 200);
    assert.equal(token.header, H.access_token, 'the redemption names the header the token goes in');
    const through = await post(gateway.mcpUrl, { ...key, [H.access_token]: token.access_token }, INITIALIZE);
    assert.equal(through.status, 200, 'the token works in the file\'s header');
    assert.ok(through.headers.get(H.session_id), 'the session id comes back in the file\'s header');
    await through.arrayBuffer();

    // Every redemption error the client can provoke.
    await errorAnswer(await post(verifyUrl, key, { challenge_id: pow.challenge_id, solution: { nonce } }), 'challenge_already_redeemed', 'spent');
    await errorAnswer(await post(verifyUrl, key, { challenge_id: '0'.repeat(32), solution: { nonce: '1' } }), 'challenge_not_found', 'unknown');
    await errorAnswer(await post(verifyUrl, key, { challenge_id: 'nope' }), 'invalid_request', 'malformed');
    await errorAnswer(await post(verifyUrl, key, 'x'.repeat(5_000)), 'payload_too_large', 'oversized');
  });

  test('a wrong proof is the file\'s invalid_solution', async () => {
    const key = { 'x-api-key': testKey('wire-wrong') };
    const [pow] = (await (await exhaust(gateway.mcpUrl, { ...key, [H.accept_402]: V.accept_402 })).json()).challenges;
    let wrong = 0;
    while (leadingZeroBits(digest(pow.salt, String(wrong))) >= pow.difficulty) wrong++;
    await errorAnswer(await post(verifyUrl, key, { challenge_id: pow.challenge_id, solution: { nonce: String(wrong) } }), 'invalid_solution', 'wrong nonce');
  });

  test('401s carry the file\'s codes', async () => {
    await errorAnswer(await post(gateway.mcpUrl, { 'x-api-key': testKey('wire-401'), [H.access_token]: 'forged' }, INITIALIZE), 'invalid_or_expired_token', 'forged token');
    await errorAnswer(await post(gateway.mcpUrl, { 'x-api-key': 'gk_not-a-key' }, INITIALIZE), 'invalid_api_key', 'forged key');
  });

  test('an in-band answer and the token handed back in `_meta` use the file\'s code and key', async () => {
    const key = { 'x-api-key': testKey('wire-in-band') };
    // The first request fits the quota of one and reaches the origin; the next is answered in-band.
    await (await post(gateway.mcpUrl, key, INITIALIZE)).arrayBuffer();
    const answer = await post(gateway.mcpUrl, key, { ...INITIALIZE, id: 7 });
    assert.equal(answer.headers.get(H.challenge_marker), V.challenge_marker);
    assert.equal(answer.headers.get(H.www_authenticate), null, 'no HTTP challenge in-band');
    const body = await jsonRpcError(answer, RPC.payment_required, 200, 'in-band');
    assert.equal(body.id, 7);
    const [pow] = body.error.data.challenges;
    assert.equal(pow.type, wire.challenge_types.pow);
    const nonce = await solvePow(pow.salt, pow.difficulty);
    const { access_token: token } = await (await post(verifyUrl, key, { challenge_id: pow.challenge_id, solution: { nonce } })).json();
    const back = await post(gateway.mcpUrl, key, { ...INITIALIZE, id: 8, params: { ...INITIALIZE.params, _meta: { [wire.meta.access_token]: token } } });
    assert.equal(back.status, 200);
    const text = await back.text(); // JSON, or one SSE event holding it
    const reply = JSON.parse(text.match(/^data: (.*)$/m)?.[1] ?? text);
    assert.deepEqual([reply.id, typeof reply.result], [8, 'object'], 'the call went through with the token from `_meta`');
  });

  test('a 429 carries the file\'s code and no challenge', async () => {
    const legacy = { 'x-api-key': testKey('wire-legacy'), 'user-agent': 'LegacyAgent/1' };
    await (await post(gateway.mcpUrl, legacy, INITIALIZE)).arrayBuffer();
    const res = await post(gateway.mcpUrl, legacy, INITIALIZE);
    assert.ok(res.headers.get(H.retry_after));
    assert.equal(res.headers.get(H.challenge_marker), null);
    assert.equal(res.headers.get(H.www_authenticate), null);
    await errorAnswer(res, 'rate_limited', '429');
  });

  test('the JSON-RPC errors are the file\'s codes', async () => {
    const key = { 'x-api-key': testKey('wire-rpc') };
    await jsonRpcError(await post(gateway.mcpUrl, key, '{'), RPC.parse_error, 400, 'parse error');
    await jsonRpcError(await post(gateway.mcpUrl, key, { jsonrpc: '1.0', id: 1, method: 'x' }), RPC.invalid_request, 400, 'invalid request');
    await jsonRpcError(await post(gateway.mcpUrl, { ...key, [H.mcp_method]: 'tools/call' }, JSON_RPC_CALL), RPC.header_mismatch, 400, 'header mismatch');
    await jsonRpcError(await post(gateway.mcpUrl, { ...key, [H.session_id]: 'forged.session' }, JSON_RPC_CALL), RPC.session_not_found, 404, 'unknown session');
  });
});

test('the Python flow\'s names are the file\'s', async () => {
  const python = join(ROOT, '.tools', 'pyclient', 'bin', 'python');
  const file = join(ROOT, 'clients', 'js', 'wire.json');
  const out = await new Promise((resolve, reject) => execFile(python, [join(ROOT, 'tests', 'python_kit_client.py'), 'wire', file], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
  assert.ok(JSON.parse(out.trim().split('\n').at(-1)).checked.includes('identity_headers'));
});
