// One reading of every body (docs/PROTOCOL.md §4, "Body rules"): a corpus of bodies on which JSON
// readers disagree, and ordinary ones, sent through the gateway to two origins, one reading with
// JavaScript's JSON.parse and one with Python's json. Each body is either refused (400 or 415 with
// the JSON-RPC code, and the origin never sees it) or forwarded, and then the origin reads the
// calls the gateway decided on: the same count (its RateLimit header) and the same names (its
// audit trail). Then the two bypasses that were reported, end to end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer } from '../demo/auth-server.mjs';
import { startOrigin } from '../demo/origin.mjs';
import { TEST_ADMIN_SECRET, freePort, startGateway, testKey } from './support/gateway.mjs';
import { jsReading, startJsReader, startPyReader } from './support/json-readers.mjs';

const JSON_TYPE = 'application/json';
const QUOTA = 1000;
const msg = (body) => `{"jsonrpc":"2.0","id":1,${body}}`;
const tool = (name, args = '{}', extra = '') => msg(`"method":"tools/call","params":{"name":"${name}","arguments":${args}${extra}}`);
const nest = (n) => `${'['.repeat(n)}${']'.repeat(n)}`;
/** `text` with its `@` replaced by raw bytes. */
const splice = (text, bytes) => Buffer.concat([Buffer.from(text.slice(0, text.indexOf('@'))), Buffer.from(bytes), Buffer.from(text.slice(text.indexOf('@') + 1))]);
const refused = (status, code) => ({ status, code });
const PARSE = refused(400, -32700);
const INVALID = refused(400, -32600);
const MEDIA = refused(415, -32600);

// [name, body (string or bytes), expectation, options]. `calls` is what gateway and origins must
// all read; `disputed` marks a body some origin reads, so refusing it is what keeps it out.
const CORPUS = [
  ['a tool call', tool('echo'), { calls: [['tools/call', 'echo']] }],
  ['a batch of three', `[${tool('a')},{"jsonrpc":"2.0","method":"notifications/initialized"},${msg('"method":"resources/read","params":{"uri":"file:///x"}')}]`,
    { calls: [['tools/call', 'a'], ['notifications/initialized', null], ['resources/read', 'file:///x']] }],
  ['a name spelled with escapes', tool(String.raw`\u0065\u0063ho`), { calls: [['tools/call', 'echo']] }],
  ['a surrogate pair', tool('echo', String.raw`{"m":"\ud83d\ude00"}`), { calls: [['tools/call', 'echo']] }],
  ['U+2028, DEL and an escaped NUL in strings', tool('echo', '{"m":"\u2028\u007f\\u0000"}'), { calls: [['tools/call', 'echo']] }],
  ['numbers every reader reads alike', tool('echo', '{"a":-0.0,"b":1e-400,"c":12345678901234567890,"d":1.5e300,"e":-0e1}'), { calls: [['tools/call', 'echo']] }],
  ['a response to a server request', '{"jsonrpc":"2.0","id":5,"result":{}}', { calls: [[null, null]] }],
  ['prompts, subscriptions and ids of every kind', `[${msg('"method":"prompts/get","params":{"name":"p"}')},{"jsonrpc":"2.0","id":"s","method":"resources/subscribe","params":{"uri":"u:1"}},{"jsonrpc":"2.0","id":null,"method":"ping"}]`,
    { calls: [['prompts/get', 'p'], ['resources/subscribe', 'u:1'], ['ping', null]] }],
  ['whitespace around the value', ` \r\n\t${tool('echo')}\n `, { calls: [['tools/call', 'echo']] }],
  ['nesting at the limit', tool('echo', `{"n":${nest(61)}}`), { calls: [['tools/call', 'echo']] }],
  ['a charset of UTF-8 in any case', tool('echo'), { calls: [['tools/call', 'echo']] }, { type: 'Application/JSON; Charset="UTF-8"' }],

  ['a lone high surrogate in _meta', tool('progress', '{}', String.raw`,"_meta":{"x":"\ud800"}`), PARSE, { disputed: true }],
  ['a lone low surrogate in the name', tool(String.raw`echo\udc00`), PARSE, { disputed: true }],
  ['a high surrogate before a non-surrogate escape', tool('echo', String.raw`{"m":"\ud800\u0041"}`), PARSE, { disputed: true }],
  ['a batch of three with one lone surrogate', `[${tool('a')},${tool('b', String.raw`{"m":"\udbff"}`)},${tool('c')}]`, PARSE, { disputed: true }],
  ['the tool name twice', msg('"method":"tools/call","params":{"name":"echo","name":"progress"}'), PARSE, { disputed: true }],
  ['the method twice', msg('"method":"tools/list","method":"tools/call","params":{"name":"progress"}'), PARSE, { disputed: true }],
  ['the name twice in two spellings', msg(String.raw`"method":"tools/call","params":{"name":"echo","n\u0061me":"progress"}`), PARSE, { disputed: true }],
  ['a member twice deep in the arguments', tool('echo', '{"a":[{"b":{"c":1,"c":2}}]}'), PARSE, { disputed: true }],
  ['nesting one past the limit', tool('echo', `{"n":${nest(62)}}`), PARSE, { disputed: true }],
  ['nesting 2,000 deep', tool('echo', `{"n":${nest(2000)}}`), PARSE, { disputed: true }],
  ['a second message after the first', `${tool('echo')}${tool('progress')}`, PARSE],
  ['garbage after the value', `${tool('echo')} x`, PARSE],
  ['NaN', tool('echo', '{"n":NaN}'), PARSE, { disputed: true }],
  ['Infinity', tool('echo', '{"n":Infinity}'), PARSE, { disputed: true }],
  ['-Infinity', tool('echo', '{"n":-Infinity}'), PARSE, { disputed: true }],
  ['a number past a double', tool('echo', '{"n":1e400}'), PARSE, { disputed: true }],
  ['an id of -0', '{"jsonrpc":"2.0","id":-0,"method":"ping"}', PARSE, { disputed: true }],
  ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(tool('echo'))]), PARSE, { disputed: true }],
  ['invalid UTF-8 in a string', splice(tool('echo', '{"m":"@"}'), [0xc3, 0x28]), PARSE, { disputed: true }],
  ['a raw newline in a string', tool('echo', '{"m":"a\nb"}'), PARSE],
  ['single quotes', "{'jsonrpc':'2.0','id':1,'method':'ping'}", PARSE],
  ['an empty body', '', PARSE],

  ['a number', '42', INVALID],
  ['null', 'null', INVALID],
  ['a string', '"tools/call"', INVALID],
  ['an empty batch', '[]', INVALID],
  ['a batch with a number in it', `[${tool('echo')},1]`, INVALID],
  ['no jsonrpc member', '{"id":1,"method":"ping"}', INVALID],
  ['jsonrpc 1.0', '{"jsonrpc":"1.0","id":1,"method":"ping"}', INVALID],
  ['a tool call with no name', msg('"method":"tools/call","params":{"arguments":{}}'), INVALID],
  ['a tool call named by a number', msg('"method":"tools/call","params":{"name":7}'), INVALID],
  ['a tool call with params in an array', msg('"method":"tools/call","params":["echo"]'), INVALID],
  ['a resource read with no uri', msg('"method":"resources/read","params":{"name":"x"}'), INVALID],
  ['a method that is not a string', msg('"method":["tools/call"]'), INVALID],
  ['params that are a string', msg('"method":"ping","params":"x"'), INVALID],
  ['an id that is an object', '{"jsonrpc":"2.0","id":{},"method":"ping"}', INVALID],
  ['an id past 2^53', '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}', INVALID],
  ['a response without an id', '{"jsonrpc":"2.0","result":{}}', INVALID],

  ['no content type', tool('echo'), MEDIA, { type: null }],
  ['text/plain', tool('echo'), MEDIA, { type: 'text/plain;charset=UTF-8' }],
  ['a UTF-16 charset', tool('echo'), MEDIA, { type: 'application/json; charset=utf-16le' }],
  ['application/json-seq', tool('echo'), MEDIA, { type: 'application/json-seq' }],
];

const remaining = (res) => Number(res.headers.get('ratelimit')?.match(/;r=(\d+)/)?.[1]);
const identity = (key) => `key:${key}`;
const AUDITED = new Set(['tools/call', 'resources/read', 'prompts/get']);
const byPair = (a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b));

describe('the gateway and its origins read every body alike, or the gateway refuses it', () => {
  let js, py, gateway;
  before(async () => {
    [js, py] = await Promise.all([startJsReader(), startPyReader()]);
    const POLICY = JSON.stringify({ origins: [
      { name: 'js', prefix: '/js', url: js.url, quota: { per_minute: QUOTA } },
      { name: 'py', prefix: '/py', url: py.url, quota: { per_minute: QUOTA } },
    ] });
    gateway = await startGateway({ originUrl: js.url, vars: { POLICY, RATE_KEY_HEADER: 'x-api-key' } });
  });
  after(async () => {
    await gateway?.dispose();
    await js?.close();
    await py?.close();
  });

  const posts = async (reader) => (await (await fetch(`${reader.url}/count`)).json()).requests;

  /** The calls the gateway audited for one caller: (method, name) of each tool, prompt, resource. */
  async function audited(key, expected) {
    let records = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${gateway.url}/admin/api/audit?identity=${encodeURIComponent(identity(key))}&limit=50`, { headers: { authorization: `Bearer ${TEST_ADMIN_SECRET}` } });
      records = (await res.json()).records;
      if (records.length >= expected) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return records.map((r) => [r.method, r.name]);
  }

  CORPUS.forEach(([name, body, expect, { type = JSON_TYPE, disputed = false } = {}], i) => {
    test(name, async () => {
      const bytes = Buffer.from(body);
      for (const [route, reader] of [['js', js], ['py', py]]) {
        const key = `case-${i}-${route}`;
        const before = await posts(reader);
        const headers = { 'x-api-key': testKey(key), ...(type === null ? {} : { 'content-type': type }) };
        const res = await fetch(`${gateway.url}/${route}/mcp`, { method: 'POST', headers, body: bytes });
        const answer = await res.json();
        if (expect.status) {
          assert.equal(res.status, expect.status, `${route}: ${JSON.stringify(answer)}`);
          assert.deepEqual([answer.jsonrpc, answer.id, answer.error?.code], ['2.0', null, expect.code], route);
          assert.equal(await posts(reader), before, `${route}: a refused body never reaches the origin`);
          continue;
        }
        assert.equal(res.status, 200, `${route}: ${JSON.stringify(answer)}`);
        assert.equal(answer.ok, true, `${route} could not read a body the gateway forwarded: ${answer.error}`);
        assert.deepEqual(answer.calls.map((c) => [c.method, c.name]), expect.calls, `what ${route} read`);
        assert.equal(QUOTA - remaining(res), expect.calls.length, `${route}: the gateway counted the calls the origin read`);
        const named = expect.calls.filter(([m]) => AUDITED.has(m));
        assert.deepEqual((await audited(key, named.length)).sort(byPair), named.sort(byPair), `${route}: the gateway audited the names the origin read`);
      }
      if (disputed) {
        const direct = await (await fetch(`${py.url}/mcp`, { method: 'POST', body: bytes })).json();
        assert.ok(jsReading(bytes).ok || direct.ok, 'an origin reads this body, so only the refusal keeps it out');
      }
    });
  });
});

async function tokenFor(as, client, { resource, scope }) {
  const meta = await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json();
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).access_token;
}

describe('the reported bypasses', () => {
  let as, origin, gateway, resource;
  const seen = [];
  before(async () => {
    [as, origin] = await Promise.all([startAuthServer(), startOrigin({ onRequest: (r) => seen.push(r) })]);
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    gateway = await startGateway({ originUrl: origin.url, port, vars: {
      OAUTH_MODE: 'required',
      OAUTH_ISSUER: as.issuer,
      OAUTH_RESOURCE: resource,
      OAUTH_REQUIRED_SCOPES: 'mcp:tools',
      OAUTH_TOOL_SCOPES: 'progress=mcp:admin',
    } });
  });
  after(async () => {
    await gateway?.dispose();
    await origin?.close();
    await as?.close();
  });

  const MCP = { 'content-type': JSON_TYPE, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
  const INITIALIZE = msg('"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"differential","version":"1"}}');
  const originPosts = () => seen.filter((r) => r.method === 'POST').length;

  /** A caller with an open session, so a call that got through would reach a tool (200). */
  async function caller() {
    const authorization = `Bearer ${await tokenFor(as, 'agent-basic', { resource, scope: 'mcp:tools' })}`;
    const init = await fetch(gateway.mcpUrl, { method: 'POST', headers: { ...MCP, authorization }, body: INITIALIZE });
    assert.equal(init.status, 200);
    await init.arrayBuffer();
    const headers = { ...MCP, authorization, 'mcp-session-id': init.headers.get('mcp-session-id') };
    return (body) => fetch(gateway.mcpUrl, { method: 'POST', headers, body });
  }

  test('a lone surrogate no longer takes a scoped tool call past the scope check', async () => {
    const post = await caller();
    assert.equal((await post(tool('progress'))).status, 403, 'without mcp:admin the scoped tool is refused');
    const posted = originPosts();
    const res = await post(tool('progress', '{"steps":1}', String.raw`,"_meta":{"x":"\ud800"}`));
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual([body.id, body.error.code, body.error.data.reason], [null, -32700, 'lone_surrogate']);
    assert.equal(originPosts(), posted, 'the origin never saw it');
  });

  test('a body nested 2,000 deep is refused before the origin', async () => {
    const post = await caller();
    const echo = await post(tool('echo', `{"message":"x","n":${nest(60)}}`));
    assert.equal(echo.status, 200, 'the same call, nested within the limit, goes through');
    await echo.arrayBuffer();
    const posted = originPosts();
    const res = await post(tool('echo', `{"message":"x","n":${nest(2000)}}`));
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual([body.error.code, body.error.data.reason], [-32700, 'too_deep']);
    assert.equal(originPosts(), posted, 'the origin never saw it');
  });
});
