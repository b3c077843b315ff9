// The documentation's examples against the wire. Every fenced block of README.md and docs/*.md
// that shows wire bytes (a status or request line, a header the gateway or its clients name, a
// JSON-RPC or error body) must be marked with the exchange it shows,
//
//   <!-- wire: <scenario>[#<part>] [partial] -->
//
// and is compared with that exchange, made here against the built gateway in workerd (real D1
// and Durable Objects, a real LNbits, a local chain with the official x402 facilitator, a real
// authorization server). An unmarked block fails, so no example can go unchecked. Separately,
// every status and error code the pages write side by side, and every JSON-RPC code they name,
// is held to clients/js/wire.json.
//
// How a block is read (docs/agents.md shows every form):
// - A request line (`POST /mcp`) or a status line (`HTTP/1.1 402 …`) starts a message; its
//   header lines follow, then a blank line and the body. Messages pair with the scenario's
//   exchanges in order. A block with neither is a fragment: each header line it shows must match
//   that header in one of the scenario's exchanges, and its body the part named after `#` (or
//   the first answer's body).
// - A response shows every header the gateway names (clients/js/wire.json `headers`) that the
//   real answer carries, unless the marker says `partial`; a request shows some of what was sent.
// - `…` stands for anything: in a string or a header value, any run of characters; as an object
//   member, any further members; as an array element, any further elements; as a value, any
//   value. `<text>` is a placeholder for any value, and `[ … ]` in a header value or around
//   object members marks what may be absent. Object keys may come in any order; every other key
//   must be shown.
// - Values that differ on every run (ids, salts, signatures, times, addresses, hosts) are held to
//   their form, not to the sample, by the key they sit under (`FORMS` below); in headers, the
//   digits of `Retry-After` and `RateLimit` likewise. Everything else must be equal.
//
// `DOCS_WIRE_PRINT=1` prints every scenario's real exchanges, to update an example from.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Mppx, evm } from 'mppx-client/client';
import { solvePow, wire } from '../clients/js/index.mjs';
import { startAuthServer } from '../demo/auth-server.mjs';
import { startLnbits } from '../demo/lnbits.mjs';
import { TOKEN_NAME, TOKEN_VERSION } from '../demo/x402/chain.mjs';
import { ROOT, freePort, startGateway, testKey } from './support/gateway.mjs';
import { startRecordingOrigin } from './support/recording-origin.mjs';
import { decodeHeader, encodeHeader, payer, startX402 } from './support/x402.mjs';

// ---------------------------------------------------------------------------------------------
// The pages and their blocks.

const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const text = (page) => readFileSync(join(ROOT, page), 'utf8');

/** Every fenced block of `page`: its first line's number, its text, and the marker above it. */
function blocks(page) {
  const lines = text(page).split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^(\s*)(`{3,})(.*)$/);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith(`${indent}${fence}`); j++) body.push(lines[j].slice(indent.length));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const marker = lines[k]?.trim().match(/^<!-- wire: ([a-z0-9-]+)(?:#([a-z0-9-]+))?( partial)? -->$/);
    out.push({ page, line: i + 1, info: info.trim(), text: body.join('\n'), marker: marker && { scenario: marker[1], part: marker[2], partial: Boolean(marker[3]) } });
    i = j;
  }
  return out;
}

const WIRE_HEADER_NAMES = new Set(Object.values(wire.headers));
const START_LINE = /^(?:HTTP\/1\.1 \d{3}\b|(?:GET|POST|PUT|DELETE|HEAD|OPTIONS) \/)/;

/** Languages whose blocks are code to run (a shell command may carry a JSON-RPC body). */
const CODE = new Set(['sh', 'bash', 'js', 'javascript', 'ts', 'python', 'toml', 'rust']);

/** Whether a block shows wire bytes. */
function showsWire(block) {
  if (CODE.has(block.info)) return false;
  return block.text.split('\n').some((l) => START_LINE.test(l) || WIRE_HEADER_NAMES.has(l.match(/^([A-Za-z0-9-]+): /)?.[1]?.toLowerCase()))
    || /"jsonrpc"\s*:|\{"error"\s*:|"challenges"\s*:|"x402Version"\s*:/.test(block.text);
}

// ---------------------------------------------------------------------------------------------
// The template language.

const ELLIPSIS = '…';

/** Parses a JSON template (JSON, plus `…`, `<placeholder>`, bare keys and `[, …]` groups). */
function parseTemplate(src) {
  let i = 0;
  const ws = () => { while (i < src.length && /\s/.test(src[i])) i++; };
  const fail = (what) => { throw new Error(`${what} at ${i} in template:\n${src}`); };
  function string() {
    let j = i + 1;
    while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
    const s = JSON.parse(src.slice(i, j + 1));
    i = j + 1;
    return s;
  }
  function value() {
    ws();
    const c = src[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return { kind: 'string', value: string() };
    if (src.startsWith(ELLIPSIS, i)) { i += ELLIPSIS.length; return { kind: 'any' }; }
    if (c === '<') { i = src.indexOf('>', i) + 1 || fail('an unclosed placeholder'); return { kind: 'any' }; }
    const m = src.slice(i).match(/^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/) ?? fail('a value expected');
    i += m[0].length;
    return { kind: 'literal', value: JSON.parse(m[0]) };
  }
  function members(obj, optional, close) {
    for (;;) {
      ws();
      if (src[i] === close) return;
      if (src[i] === ',') { i++; continue; }
      if (src.startsWith(ELLIPSIS, i)) { i += ELLIPSIS.length; obj.open = true; continue; }
      if (src[i] === '[') { i++; members(obj, true, ']'); i++; continue; }
      if (src[i] !== '"') fail('a member expected');
      const key = string();
      ws();
      let v = { kind: 'any' };
      if (src[i] === ':') { i++; v = value(); }
      obj.members.push({ key, value: v, optional });
    }
  }
  function object() {
    i++;
    const obj = { kind: 'object', members: [], open: false };
    members(obj, false, '}');
    i++;
    return obj;
  }
  function array() {
    i++;
    const arr = { kind: 'array', items: [], open: false };
    for (;;) {
      ws();
      if (src[i] === ']') { i++; return arr; }
      if (src[i] === ',') { i++; continue; }
      if (src.startsWith(ELLIPSIS, i)) {
        const after = src.slice(i + ELLIPSIS.length).trimStart()[0];
        if (after === ']' || after === ',') { i += ELLIPSIS.length; arr.open = true; continue; }
      }
      arr.items.push(value());
    }
  }
  const v = value();
  ws();
  if (i !== src.length) fail('text after the value');
  return v;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A regular expression from a text template: `…` and `<…>` any run, `[…]` optional. */
function textPattern(template, { digits = false } = {}) {
  let out = '';
  for (let i = 0; i < template.length;) {
    if (template.startsWith(ELLIPSIS, i)) { out += '[\\s\\S]*?'; i += ELLIPSIS.length; continue; }
    const c = template[i];
    if (c === '<') { const j = template.indexOf('>', i); if (j > i) { out += '[\\s\\S]+?'; i = j + 1; continue; } }
    if (c === '[') { out += '(?:'; i++; continue; }
    if (c === ']') { out += ')?'; i++; continue; }
    if (digits && /\d/.test(c)) { while (/\d/.test(template[i] ?? '')) i++; out += '\\d+'; continue; }
    out += escape(c);
    i++;
  }
  return new RegExp(`^${out}$`);
}

const HEX = (n) => new RegExp(`^[0-9a-f]{${n}}$`);
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
const URL_OF = (path) => new RegExp(`^https?://[^/]+${escape(path)}$`);
/** The form of each value that differs from run to run, by the key it sits under. */
const FORMS = {
  challenge_id: HEX(32),
  salt: HEX(32),
  payment_hash: HEX(64),
  expires: /^(?:\d+|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/,
  expires_at: 'number',
  retry_after: 'number',
  chainId: 'number',
  nonce: /^(?:\d+|0x[0-9a-f]{64})$/,
  macaroon: /^[A-Za-z0-9+/]+=*$/,
  invoice: /^lnbc[0-9a-z]+$/,
  access_token: /^[\w-]+\.[\w-]+\.[\w-]+$/,
  id: /^[A-Za-z0-9_-]{43}$/,
  challengeId: /^[A-Za-z0-9_-]{43}$/,
  request: B64URL,
  digest: /^sha-256=:[A-Za-z0-9+/]+=*:$/,
  realm: /^[A-Za-z0-9.-]+$/,
  verify_url: URL_OF('/api/verify-challenge'),
  url: URL_OF('/mcp'),
  resource: URL_OF('/mcp'),
  resource_metadata: /^https?:\/\/[^/]+\/\.well-known\/oauth-protected-resource(?:\/mcp)?$/,
  authorization_servers: /^https?:\/\/[^/]+$/,
  network: /^eip155:\d+$/,
  asset: ADDRESS,
  currency: ADDRESS,
  payTo: ADDRESS,
  recipient: ADDRESS,
  payer: ADDRESS,
  from: ADDRESS,
  to: ADDRESS,
  transaction: /^0x[0-9a-f]{64}$/,
  reference: /^0x[0-9a-f]{64}$/,
  signature: /^0x[0-9a-f]+$/,
  timestamp: RFC3339,
  amount: /^\d+$/,
  value: /^\d+$/,
  validAfter: /^\d+$/,
  validBefore: /^\d+$/,
  source: /^did:pkh:eip155:\d+:0x[0-9a-fA-F]{40}$/,
  'extra.name': /^.+$/,
};
const formOf = (key, path) => FORMS[path.split('.').slice(-2).join('.')] ?? FORMS[key];
const fits = (form, v) => (form === 'number' ? typeof v === 'number' : typeof v === 'string' && form.test(v));
const hasWildcard = (s) => s.includes(ELLIPSIS) || /<[^>]+>/.test(s);

/** Every way `real` differs from template `t`, under `key` at `path`. */
function compare(t, real, key, path, out) {
  const where = path || '(body)';
  const form = formOf(key, path);
  switch (t.kind) {
    case 'any': return out;
    case 'object': {
      if (real === null || typeof real !== 'object' || Array.isArray(real)) return out.push(`${where}: an object was shown, the gateway sent ${JSON.stringify(real)}`), out;
      const shown = new Set();
      for (const m of t.members) {
        shown.add(m.key);
        if (!Object.hasOwn(real, m.key)) { if (!m.optional) out.push(`${where}: "${m.key}" is shown but the gateway sent none`); continue; }
        compare(m.value, real[m.key], m.key, path ? `${path}.${m.key}` : m.key, out);
      }
      if (!t.open) for (const k of Object.keys(real)) if (!shown.has(k)) out.push(`${where}: the gateway also sent "${k}", which is not shown (add it, or "…")`);
      return out;
    }
    case 'array': {
      if (!Array.isArray(real)) return out.push(`${where}: an array was shown, the gateway sent ${JSON.stringify(real)}`), out;
      if (t.open ? real.length < t.items.length : real.length !== t.items.length) out.push(`${where}: ${t.items.length}${t.open ? ' or more' : ''} elements shown, the gateway sent ${real.length}`);
      t.items.forEach((item, n) => compare(item, real[n], key, `${path}[${n}]`, out));
      return out;
    }
    case 'string': {
      if (form && typeof real === 'string') {
        if (!fits(form, real)) out.push(`${where}: the gateway sent ${JSON.stringify(real)}, not of the form ${form}`);
        else if (!hasWildcard(t.value) && !fits(form, t.value)) out.push(`${where}: the sample ${JSON.stringify(t.value)} is not of the form ${form}`);
        return out;
      }
      if (typeof real !== 'string' || !textPattern(t.value).test(real)) out.push(`${where}: shown ${JSON.stringify(t.value)}, the gateway sent ${JSON.stringify(real)}`);
      return out;
    }
    case 'literal': {
      if (form === 'number' && typeof t.value === 'number') {
        if (typeof real !== 'number') out.push(`${where}: the gateway sent ${JSON.stringify(real)}, not a number`);
        return out;
      }
      if (!Object.is(t.value, real)) out.push(`${where}: shown ${JSON.stringify(t.value)}, the gateway sent ${JSON.stringify(real)}`);
      return out;
    }
    default: throw new Error(`template kind ${t.kind}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Headers.

const CHALLENGE_SCHEMES = ['PoW', 'L402', 'LSAT', 'Payment', 'Bearer'];
const SCHEME_START = new RegExp(`, (?=(?:${CHALLENGE_SCHEMES.join('|')}) [a-z_]+=)`);
/** A `WWW-Authenticate` value (fetch joins repeated fields with ", ") as its challenges. */
const challengesOf = (value) => value.split(SCHEME_START);

/** A challenge's scheme and its parameters, in order. */
function authParams(challenge) {
  const [, scheme, rest] = challenge.match(/^(\S+)\s*(.*)$/s);
  const params = [...rest.matchAll(/([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|[^,\s]*)/g)].map(([, k, v]) => [k, v.startsWith('"') ? v.slice(1, -1) : v]);
  return { scheme, params };
}

function compareChallenge(template, real, out, what) {
  const t = authParams(template);
  const r = authParams(real);
  if (t.scheme !== r.scheme) return out.push(`${what}: scheme ${t.scheme} shown, ${r.scheme} sent`), out;
  const keys = (x) => x.params.map(([k]) => k).join(', ');
  if (keys(t) !== keys(r)) out.push(`${what}: parameters ${keys(t)} shown, the gateway sent ${keys(r)}`);
  for (const [k, v] of t.params) {
    const sent = r.params.find(([rk]) => rk === k)?.[1];
    if (sent !== undefined) compare({ kind: 'string', value: v }, sent, k, `${r.scheme}.${k}`, out);
  }
  return out;
}

const VOLATILE_DIGITS = new Set(['retry-after', 'ratelimit']);
/** A header line's value, less a trailing comment (two spaces, then `(…)`). */
const headerValue = (v) => v.replace(/\s{2,}\(.*\)$/, '');

function compareHeader(name, template, real, out, what) {
  if (real === null || real === undefined) return out.push(`${what}: ${name} is shown, the gateway sent none`), out;
  if (!textPattern(headerValue(template), { digits: VOLATILE_DIGITS.has(name) }).test(real)) out.push(`${what}: ${name}: shown ${JSON.stringify(template)}, sent ${JSON.stringify(real)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading a block.

function parseBlock(src) {
  const messages = [];
  let current = null;
  const fragment = { headers: [], body: [] };
  for (const line of src.split('\n')) {
    if (START_LINE.test(line)) {
      const status = line.match(/^HTTP\/1\.1 (\d{3})/);
      const request = line.match(/^(\w+) (\S+)/);
      current = status ? { kind: 'response', status: Number(status[1]), headers: [], body: [], inBody: false } : { kind: 'request', method: request[1], path: request[2], headers: [], body: [], inBody: false };
      messages.push(current);
      continue;
    }
    const target = current ?? fragment;
    const header = line.match(/^([A-Za-z0-9-]+): (.*)$/);
    if (!target.inBody && header && !/^[{[]/.test(line)) target.headers.push([header[1].toLowerCase(), header[2]]);
    else if (line.trim() === '' && !target.inBody) target.inBody = target.headers.length > 0 || current !== null;
    else { target.inBody = true; target.body.push(line); }
  }
  const bodyOf = (m) => m.body.join('\n').trim();
  return { messages: messages.map((m) => ({ ...m, body: bodyOf(m) })), fragment: { headers: fragment.headers, body: bodyOf(fragment) } };
}

function compareBody(template, real, out, what) {
  if (!template) return out;
  let t;
  try { t = parseTemplate(template); } catch (e) { return out.push(`${what}: ${e.message}`), out; }
  const prefixed = [];
  compare(t, real, '', '', prefixed);
  out.push(...prefixed.map((p) => `${what}: ${p}`));
  return out;
}

/** Every way the block differs from the scenario's exchanges. */
function check(block, scenario) {
  const out = [];
  const { messages, fragment } = parseBlock(block.text);
  const { exchanges, parts = {} } = scenario;
  if (messages.length === 0) {
    for (const [name, value] of fragment.headers) {
      const candidates = exchanges.flatMap((x) => [x.response.headers, x.request.headers]).map((h) => h[name]).filter((v) => v !== undefined);
      if (candidates.length === 0) { out.push(`${name} is shown, but no exchange of the scenario carries it`); continue; }
      const ok = candidates.some((c) => (name === 'www-authenticate'
        ? challengesOf(c).some((ch) => compareChallenge(value, ch, [], name).length === 0)
        : compareHeader(name, value, c, [], name).length === 0));
      if (!ok) out.push(`${name}: ${JSON.stringify(value)} matches nothing the gateway sent: ${candidates.map((c) => JSON.stringify(c)).join(' / ')}`);
    }
    const real = block.marker.part ? parts[block.marker.part] : exchanges[0].response.body;
    if (block.marker.part && !Object.hasOwn(parts, block.marker.part)) out.push(`the scenario has no part "${block.marker.part}"`);
    else compareBody(fragment.body, real, out, block.marker.part ?? 'body');
    return out;
  }
  let n = -1;
  for (const m of messages) {
    if (m.kind === 'request' || n < 0 || messages[messages.indexOf(m) - 1]?.kind === 'response') n++;
    const x = exchanges[n];
    if (!x) { out.push(`message ${messages.indexOf(m) + 1}: the scenario has only ${exchanges.length} exchanges`); continue; }
    if (m.kind === 'request') {
      const what = `request ${n + 1}`;
      if (m.method !== x.request.method || m.path !== x.request.path) out.push(`${what}: ${m.method} ${m.path} shown, ${x.request.method} ${x.request.path} sent`);
      for (const [name, value] of m.headers) compareHeader(name, value, x.request.headers[name], out, what);
      compareBody(m.body, x.request.body, out, `${what} body`);
      continue;
    }
    const what = `answer ${n + 1}`;
    if (m.status !== x.response.status) out.push(`${what}: status ${m.status} shown, ${x.response.status} sent`);
    const shown = new Set(m.headers.map(([k]) => k));
    if (!block.marker.partial) for (const name of Object.keys(x.response.headers)) if (WIRE_HEADER_NAMES.has(name) && !shown.has(name)) out.push(`${what}: the gateway sent ${name}, which is not shown (show it, or mark the block partial)`);
    const shownChallenges = m.headers.filter(([k]) => k === 'www-authenticate').map(([, v]) => v);
    if (shownChallenges.length) {
      const sent = x.response.headers['www-authenticate'] ? challengesOf(x.response.headers['www-authenticate']) : [];
      if (block.marker.partial) {
        let from = 0;
        for (const c of shownChallenges) {
          const scheme = authParams(c).scheme;
          const at = sent.findIndex((s, k) => k >= from && authParams(s).scheme === scheme);
          if (at < 0) { out.push(`${what}: a ${scheme} challenge is shown, the gateway sent none after the ones before`); continue; }
          compareChallenge(c, sent[at], out, `${what} ${scheme}`);
          from = at + 1;
        }
      } else {
        if (sent.length !== shownChallenges.length) out.push(`${what}: ${shownChallenges.length} challenges shown, ${sent.length} sent`);
        shownChallenges.forEach((c, k) => sent[k] && compareChallenge(c, sent[k], out, `${what} challenge ${k + 1}`));
      }
    }
    for (const [name, value] of m.headers) if (name !== 'www-authenticate') compareHeader(name, value, x.response.headers[name], out, what);
    compareBody(m.body, x.response.body, out, `${what} body`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Codes written in prose and tables, against clients/js/wire.json.

function codeMentions(page) {
  const src = text(page);
  const found = [];
  const line = (at) => src.slice(0, at).split('\n').length;
  for (const m of src.matchAll(/\b([1-5]\d\d) \{"error":"([a-z0-9_]+)"/g)) found.push({ status: Number(m[1]), code: m[2], line: line(m.index) });
  for (const m of src.matchAll(/`([1-5]\d\d) ([a-z][a-z0-9_]*_[a-z0-9_]+)`/g)) found.push({ status: Number(m[1]), code: m[2], line: line(m.index) });
  for (const m of src.matchAll(/^[ \t]*\|\s*([1-5]\d\d)\s*\|\s*`([a-z][a-z0-9_]+)`\s*\|/gm)) found.push({ status: Number(m[1]), code: m[2], line: line(m.index) });
  for (const m of src.matchAll(/\{"error":"([a-z0-9_]+)"/g)) found.push({ code: m[1], line: line(m.index) });
  const rpc = [...src.matchAll(/JSON-RPC (?:error )?(?:code )?`(-?\d+)`/g)].map((m) => ({ rpc: Number(m[1]), line: line(m.index) }));
  return { found, rpc };
}

// ---------------------------------------------------------------------------------------------
// The scenarios: each makes its exchanges once, on first use.

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const TOOL_CALL = (id, meta) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' }, ...(meta ? { _meta: meta } : {}) } });
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
const LNBITS_ROOT_KEY = 'docs-l402-root-key-0123456789abcdef0123';

/** Reads an answer into the form the checks compare. */
async function record(url, init) {
  const res = await fetch(url, init);
  const raw = await res.text();
  const data = raw.match(/^data: (.*)$/m)?.[1];
  let body;
  try { body = JSON.parse(data ?? raw); } catch { body = raw; }
  let sent;
  try { sent = init?.body ? JSON.parse(init.body) : undefined; } catch { sent = init.body; }
  return {
    request: { method: init?.method ?? 'GET', path: new URL(url).pathname, headers: Object.fromEntries(new Headers(init?.headers)), body: sent },
    response: { status: res.status, headers: Object.fromEntries(res.headers), body },
  };
}
const post = (url, headers, body) => record(url, { method: 'POST', headers: { ...MCP, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Requests until the quota is spent: the last answer is the first refusal. */
async function spend(url, headers, limit = 200) {
  for (let i = 0; i < limit; i++) {
    const res = await fetch(url, { method: 'POST', headers: { ...MCP, ...headers }, body: JSON.stringify({ jsonrpc: '2.0', id: 1000 + i, method: 'tools/list' }) });
    const refused = res.status !== 200 || res.headers.get(wire.headers.challenge_marker);
    await res.arrayBuffer();
    if (refused) return;
  }
  throw new Error(`the quota was not spent after ${limit} requests`);
}

const stops = [];
const once = (f) => { let p; return () => (p ??= f()); };
const origin = once(async () => { const o = await startRecordingOrigin(); stops.push(() => o.close()); return o; });
const gateway = async (vars, opts = {}) => {
  const g = await startGateway({ originUrl: (await origin()).url, vars: { RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', IN_BAND_CHALLENGES: undefined, ...vars }, ...opts });
  stops.push(() => g.dispose());
  return g;
};
const lnbits = once(async () => { const ln = await startLnbits(); stops.push(() => ln.stop()); return ln; });
const chain = once(async () => { const x = await startX402({ payers: 2 }); stops.push(() => x.stop()); return x; });

const powGateway = once(() => gateway({ LEGACY_USER_AGENTS: 'OldAgent/*' }));
const x402Gateway = once(async () => gateway((await chain()).vars({ CHALLENGE_OFFERS: 'x402,mpp,pow', RATE_KEY_HEADER: 'x-api-key', POW_ADAPTIVE: 'false', IN_BAND_CHALLENGES: undefined })));
let clients = 0;
const client = (name) => ({ 'x-api-key': testKey(`docs-${name}-${clients++}`) });

/** A signed x402 payload for a PaymentRequired, from the official client. */
const sign = async (required) => payer((await chain()).chain.payers[0], { chain: (await chain()).chain }).createPaymentPayload(required);

const SCENARIOS = {
  'pow-402': once(async () => {
    const g = await powGateway();
    const key = client('pow');
    await spend(g.mcpUrl, key);
    const x = await post(g.mcpUrl, { ...key, [wire.headers.accept_402]: wire.header_values.accept_402 }, TOOL_CALL(7));
    return { exchanges: [x], parts: { offer: x.response.body.challenges?.[0] }, key, gateway: g };
  }),
  'pow-redeem': once(async () => {
    // A challenge of its own, so that no other scenario's wait can let it expire.
    const g = await powGateway();
    const key = client('pow-redeem');
    await spend(g.mcpUrl, key);
    const x = await post(g.mcpUrl, { ...key, [wire.headers.accept_402]: wire.header_values.accept_402 }, TOOL_CALL(7));
    const [c] = x.response.body.challenges;
    const redeemed = await post(c.verify_url, key, { challenge_id: c.challenge_id, solution: { nonce: await solvePow(c.salt, c.difficulty) } });
    return { exchanges: [redeemed], key };
  }),
  'pow-retry': once(async () => {
    const { exchanges: [r], key } = await SCENARIOS['pow-redeem']();
    const g = await powGateway();
    return { exchanges: [await post(g.mcpUrl, { ...key, [wire.headers.access_token]: r.response.body.access_token }, TOOL_CALL(8))] };
  }),
  'legacy-429': once(async () => {
    const g = await powGateway();
    const key = { ...client('legacy'), 'user-agent': 'OldAgent/2' };
    await spend(g.mcpUrl, key);
    return { exchanges: [await post(g.mcpUrl, key, TOOL_CALL(9))] };
  }),
  'l402-402': once(async () => {
    const ln = await lnbits();
    const g = await gateway({ CHALLENGE_OFFERS: 'l402,pow', L402_BACKEND_URL: ln.url, L402_BACKEND_KEY: ln.gateway.inkey, L402_ROOT_KEY: LNBITS_ROOT_KEY });
    const key = client('l402');
    await spend(g.mcpUrl, key);
    const x = await post(g.mcpUrl, { ...key, [wire.headers.accept_402]: wire.header_values.accept_402 }, TOOL_CALL(7));
    return { exchanges: [x], gateway: g };
  }),
  'l402-refused': once(async () => {
    const { exchanges: [x], gateway: g } = await SCENARIOS['l402-402']();
    const [l402] = x.response.body.challenges;
    return { exchanges: [await post(g.mcpUrl, { authorization: `L402 ${l402.macaroon}:${'00'.repeat(32)}` }, TOOL_CALL(8))] };
  }),
  'l402-paid': once(async () => {
    const { exchanges: [x], gateway: g } = await SCENARIOS['l402-402']();
    const [l402] = x.response.body.challenges;
    const preimage = await (await lnbits()).pay(l402.invoice);
    const paid = await post(g.mcpUrl, { authorization: `L402 ${l402.macaroon}:${preimage}` }, TOOL_CALL(9));
    assert.equal(paid.response.status, 200, 'a paid L402 credential gets through');
    return { exchanges: [x, paid] };
  }),
  'x402-402': once(async () => {
    const g = await x402Gateway();
    const key = client('x402');
    await spend(g.mcpUrl, key);
    const x = await post(g.mcpUrl, { ...key, [wire.headers.accept_402]: wire.header_values.accept_402 }, TOOL_CALL(7));
    return { exchanges: [x], parts: { 'payment-required': decodeHeader(x.response.headers[wire.headers.payment_required]) }, key };
  }),
  'x402-paid': once(async () => {
    const { exchanges: [x], key } = await SCENARIOS['x402-402']();
    const payload = await sign(decodeHeader(x.response.headers[wire.headers.payment_required]));
    const paid = await post((await x402Gateway()).mcpUrl, { ...key, [wire.headers.payment_signature]: encodeHeader(payload) }, TOOL_CALL(7));
    return { exchanges: [paid], parts: { 'payment-response': decodeHeader(paid.response.headers[wire.headers.payment_response]) } };
  }),
  'mpp-402': once(async () => {
    const g = await x402Gateway();
    const key = client('mpp');
    await spend(g.mcpUrl, key);
    const x = await post(g.mcpUrl, { ...key, [wire.headers.accept_payment]: 'evm/charge' }, TOOL_CALL(7));
    const request = x.response.headers['www-authenticate']?.match(/Payment [^]*?request="([^"]+)"/)?.[1];
    return { exchanges: [x], parts: { request: request && JSON.parse(Buffer.from(request, 'base64url').toString('utf8')) }, key };
  }),
  'mpp-paid': once(async () => {
    // mppx signs the credential as its authors ship it, for a 402 of this scenario's own (its
    // challenge expires a TTL after it is made).
    const g = await x402Gateway();
    const key = client('mpp-paid');
    await spend(g.mcpUrl, key);
    const x = await post(g.mcpUrl, { ...key, [wire.headers.accept_payment]: 'evm/charge' }, TOOL_CALL(7));
    let credential;
    const capture = async (input, init) => {
      credential = new Headers(init?.headers).get('authorization');
      return credential ? new Response('{}') : new Response(JSON.stringify(x.response.body), { status: 402, headers: { 'www-authenticate': x.response.headers['www-authenticate'], 'content-type': 'application/json' } });
    };
    const { chain: c } = await chain();
    const mppx = Mppx.create({ methods: [evm.charge({ account: c.payers[1], authorization: { name: TOKEN_NAME, version: TOKEN_VERSION } })], polyfill: false, fetch: capture });
    await mppx.fetch(g.mcpUrl, { method: 'POST', headers: MCP, body: JSON.stringify(TOOL_CALL(7)) });
    const paid = await post(g.mcpUrl, { ...key, authorization: credential }, TOOL_CALL(7));
    const b64 = (v) => JSON.parse(Buffer.from(v, 'base64url').toString('utf8'));
    return { exchanges: [paid], parts: { credential: b64(credential.slice('Payment '.length)), receipt: b64(paid.response.headers[wire.headers.payment_receipt]) } };
  }),
  'mpp-problem': once(async () => {
    const g = await x402Gateway();
    const key = client('mpp-problem');
    await spend(g.mcpUrl, key);
    return { exchanges: [await post(g.mcpUrl, { ...key, authorization: 'Payment not-json' }, TOOL_CALL(7))] };
  }),
  'in-band-tool': once(async () => {
    const g = await x402Gateway();
    const key = client('in-band');
    await spend(g.mcpUrl, key);
    return { exchanges: [await post(g.mcpUrl, { ...key, 'mcp-protocol-version': '2025-11-25' }, TOOL_CALL(7))], key };
  }),
  'in-band-tool-2026': once(async () => {
    const { key } = await SCENARIOS['in-band-tool']();
    const g = await x402Gateway();
    const body = TOOL_CALL(7, { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' });
    return { exchanges: [await post(g.mcpUrl, { ...key, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, body)] };
  }),
  'in-band-error': once(async () => {
    const { key } = await SCENARIOS['in-band-tool']();
    return { exchanges: [await post((await x402Gateway()).mcpUrl, key, { jsonrpc: '2.0', id: 8, method: 'tools/list' })] };
  }),
  'x402-mcp-paid': once(async () => {
    const g = await x402Gateway();
    const key = client('x402-mcp');
    await spend(g.mcpUrl, key);
    const refused = await post(g.mcpUrl, key, TOOL_CALL(3));
    const payload = await sign(refused.response.body.result.structuredContent);
    return { exchanges: [await post(g.mcpUrl, key, TOOL_CALL(4, { 'x402/payment': payload }))] };
  }),
  'mpp-mcp-paid': once(async () => {
    // The credential built from the in-band challenge as MPP's MCP transport carries it, with an
    // EIP-3009 authorization the official x402 client signed for the same price.
    const g = await x402Gateway();
    const key = client('mpp-mcp');
    await spend(g.mcpUrl, key);
    const refused = (await post(g.mcpUrl, key, TOOL_CALL(5))).response.body.result;
    const [challenge] = refused._meta[wire.meta.mpp_payment_required].challenges;
    const signed = await sign(refused.structuredContent);
    const credential = { challenge, payload: { type: 'authorization', ...signed.payload.authorization, signature: signed.payload.signature } };
    const paid = await post(g.mcpUrl, key, TOOL_CALL(6, { [wire.meta.mpp_credential]: credential }));
    const replayed = await post(g.mcpUrl, key, TOOL_CALL(7, { [wire.meta.mpp_credential]: credential }));
    return { exchanges: [paid], replayed };
  }),
  'mpp-mcp-refused': once(async () => ({ exchanges: [(await SCENARIOS['mpp-mcp-paid']()).replayed] })),
  ...(() => {
    const oauth = once(async () => {
      const as = await startAuthServer();
      stops.push(() => as.close());
      const port = await freePort();
      const resource = `http://127.0.0.1:${port}/mcp`;
      const g = await gateway({ OAUTH_MODE: 'required', OAUTH_ISSUER: as.issuer, OAUTH_RESOURCE: resource, OAUTH_REQUIRED_SCOPES: 'mcp:tools', OAUTH_TOOL_SCOPES: 'progress=mcp:admin' }, { port });
      return { as, g, resource, port };
    });
    return {
      'oauth-401': once(async () => ({ exchanges: [await post((await oauth()).resource, {}, LIST)] })),
      'oauth-invalid': once(async () => ({ exchanges: [await post((await oauth()).resource, { authorization: 'Bearer not-a-token' }, LIST)] })),
      'oauth-metadata': once(async () => ({ exchanges: [await record(`http://127.0.0.1:${(await oauth()).port}/.well-known/oauth-protected-resource/mcp`)] })),
      'oauth-scope': once(async () => {
        const { as, resource } = await oauth();
        const res = await fetch(`${as.issuer}/token`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from('agent-basic:agent-basic-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:tools', resource }),
        });
        const { access_token: token } = await res.json();
        return { exchanges: [await post(resource, { authorization: `Bearer ${token}` }, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'progress', arguments: {} } })] };
      }),
    };
  })(),
};
// ---------------------------------------------------------------------------------------------

const ALL = PAGES.flatMap(blocks);
const MARKED = ALL.filter((b) => b.marker);

after(async () => { for (const stop of stops.reverse()) await stop(); });

test('every block that shows wire bytes is marked with the exchange it shows', () => {
  const unmarked = ALL.filter((b) => !b.marker && showsWire(b)).map((b) => `${b.page}:${b.line}`);
  assert.deepEqual(unmarked, [], 'mark each with <!-- wire: <scenario> --> (or change it not to show wire bytes)');
  const unknown = MARKED.filter((b) => !SCENARIOS[b.marker.scenario]).map((b) => `${b.page}:${b.line} ${b.marker.scenario}`);
  assert.deepEqual(unknown, [], 'markers naming no scenario of this test');
});

describe('each marked example against the gateway\'s answer', () => {
  if (process.env.DOCS_WIRE_PRINT) {
    before(async () => {
      for (const name of new Set(MARKED.map((b) => b.marker.scenario))) console.log(`== ${name}`, JSON.stringify(await SCENARIOS[name](), null, 1));
    });
  }
  for (const block of MARKED) {
    test(`${block.page}:${block.line} (${block.marker.scenario}${block.marker.part ? `#${block.marker.part}` : ''})`, { timeout: 180_000 }, async () => {
      const problems = check(block, await SCENARIOS[block.marker.scenario]());
      assert.deepEqual(problems, [], `${block.page}:${block.line} differs from the wire`);
    });
  }
});

/** A heading's anchor as GitHub makes it: lowercase, punctuation dropped, spaces to hyphens. */
const anchor = (heading) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

test('every relative link of the pages reaches a file, and its anchor a heading there', () => {
  const broken = [];
  for (const page of PAGES) {
    const dir = page.includes('/') ? page.slice(0, page.lastIndexOf('/') + 1) : '';
    // Links outside code spans and blocks.
    const prose = text(page).replace(/^(\s*)(`{3,})[^]*?^\1\2/gm, '').replace(/`[^`\n]*`/g, '');
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, hash] = target.split('#');
      const path = file ? join(dir, file).replace(/^\.\//, '') : page;
      let content;
      try { content = readFileSync(join(ROOT, path), 'utf8'); } catch { broken.push(`${page}: ${target} (no ${path})`); continue; }
      if (hash && path.endsWith('.md')) {
        const anchors = new Set([...content.matchAll(/^#{1,6} (.*)$/gm)].map(([, h]) => anchor(h)));
        if (!anchors.has(hash)) broken.push(`${page}: ${target} (no heading #${hash} in ${path})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

test('the README links every page under docs/, and every page says first whom it is for', () => {
  const readme = text('README.md');
  const pages = PAGES.filter((p) => p.startsWith('docs/'));
  assert.deepEqual(pages.filter((p) => !readme.includes(`](${p})`)), [], 'pages the README\'s table does not link');
  // The first paragraph after the title names its reader ("For operators …", "For authors of …").
  const unaddressed = pages.filter((p) => p !== 'docs/PROTOCOL.md' && !/^# .*\n\n(?:[^\n]+\n)*?[^\n]*\bFor\b/.test(text(p)));
  assert.deepEqual(unaddressed, [], 'pages whose opening does not say whom they are for');
});

test('every status written beside an error code, and every JSON-RPC code named, is wire.json\'s', () => {
  const problems = [];
  const rpcCodes = new Set(Object.values(wire.jsonrpc));
  for (const page of PAGES) {
    const { found, rpc } = codeMentions(page);
    for (const f of found) {
      if (!Object.hasOwn(wire.errors, f.code)) problems.push(`${page}:${f.line}: "${f.code}" is no error code of the gateway (clients/js/wire.json)`);
      else if (f.status !== undefined && wire.errors[f.code] !== f.status) problems.push(`${page}:${f.line}: ${f.status} ${f.code}, but the gateway answers ${f.code} with ${wire.errors[f.code]}`);
    }
    for (const r of rpc) if (!rpcCodes.has(r.rpc)) problems.push(`${page}:${r.line}: JSON-RPC code ${r.rpc} is not one the gateway sends`);
  }
  assert.deepEqual(problems, []);
});
