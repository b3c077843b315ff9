// The benchmark's second hand-written peer: the gateway's token path with the work it hardens,
// written directly in TypeScript on WebCrypto, as a like-for-like floor for that path. Beside what
// ts-peer.ts does, it reads the POST body the way the gateway does before it decides (size-capped,
// JSON-RPC checked, every message of a batch counted) and charges the calls against the token's
// grant. Per request:
//  1. the gateway-issued API key (`x-api-key`: `gk_` + HS256 JWS over {typ, id, tier, iat},
//     gatehouse-core api_key.rs, jwt.rs), its MAC recomputed with WebCrypto and compared in
//     constant time (crypto.subtle.timingSafeEqual), kid from TOKEN_SIGNING_KEYS;
//  2. the access token (`x-access-token`, HS256 JWS, token.rs): MAC as above, issuer, audience,
//     lifetime, and its binding (SHA-256 over user agent and client key) compared in constant time;
//  3. the POST body (application/json, identity encoding), read to at most 1 MiB and parsed as
//     one JSON-RPC 2.0 message or a non-empty batch (mcp/read.rs), each message one call;
//  4. the calls charged against the token's `grant` in an isolate-local Map by `jti`: no I/O,
//     and a grant with fewer calls left than the request makes is refused (402);
//  5. the gateway's credentials (x-api-key, x-access-token, authorization) stripped;
//  6. the bytes it read forwarded to the origin, and the origin's answer streamed back.
// What it leaves out needs state across isolates (the revocation list, the grant's counter
// object) or configuration (routes, per-tool limits, reduced grants): the isolate-local part alone.
interface Env { ORIGIN_URL: string; TOKEN_SIGNING_KEYS: string }
interface Grant { left: number; exp: number }

const MAX_BODY = 1024 * 1024; // gatehouse-core mcp.rs MAX_POLICY_BODY
const MAX_TOKEN = 4096; // jwt.rs MAX_TOKEN_LEN
const LEEWAY_S = 5;
const enc = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true });
const b64 = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const b64url = (b: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const word = (s: unknown) => typeof s === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(s);
const refuse = (status: number, error: string) => Response.json({ error }, { status });
const rpcError = (code: number, message: string) =>
  Response.json({ jsonrpc: '2.0', id: null, error: { code, message } }, { status: 400 });

let ring: Map<string, CryptoKey> | undefined;
async function keys(raw: string): Promise<Map<string, CryptoKey>> {
  const entries = raw.split(',').map((e) => e.trim().split(/:(.*)/s));
  return new Map(await Promise.all(entries.map(async ([kid, secret]) =>
    [kid, await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])] as const)));
}

/** The claims of an HS256 compact JWS whose MAC matches, or null. */
async function jws(token: string, env: Env): Promise<any> {
  if (token.length > MAX_TOKEN) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const head = JSON.parse(utf8.decode(b64(parts[0])));
    const key = head?.alg === 'HS256' && (ring ??= await keys(env.TOKEN_SIGNING_KEYS)).get(head.kid);
    if (!key) return null;
    const given = b64(parts[2]);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(`${parts[0]}.${parts[1]}`)));
    if (given.length !== mac.length || !crypto.subtle.timingSafeEqual(given, mac)) return null;
    return JSON.parse(utf8.decode(b64(parts[1])));
  } catch {
    return null;
  }
}

/** api_key.rs verify: `gk_` + a JWS over exactly {typ, id, tier, iat}. */
async function apiKey(presented: string | null, env: Env): Promise<{ id: string } | null> {
  const v = presented?.trim();
  if (!v?.startsWith('gk_')) return null;
  const k = await jws(v.slice(3), env);
  const ok = k && typeof k === 'object' && Object.keys(k).length === 4 && k.typ === 'gatehouse/api-key'
    && word(k.id) && word(k.tier) && Number.isSafeInteger(k.iat);
  return ok ? k : null;
}

/** token.rs binding_hash: base64url(SHA-256) over the length-prefixed parts. */
async function binding(...parts: string[]): Promise<string> {
  const chunks = [enc.encode('gatehouse-binding-v1'), ...parts.flatMap((p) => {
    const bytes = enc.encode(p), len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(bytes.length));
    return [len, bytes];
  })];
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  return b64url(await crypto.subtle.digest('SHA-256', all));
}

/** token.rs check: signature, issuer, audience, lifetime, binding. */
async function accessToken(presented: string | null, req: Request, env: Env, key: { id: string }, audience: string, now: number): Promise<any> {
  const claims = presented ? await jws(presented, env) : null;
  if (!claims || claims.iss !== 'gatehouse' || claims.aud !== audience || !(now < claims.exp) || claims.iat > now + LEEWAY_S
    || typeof claims.jti !== 'string' || !Number.isSafeInteger(claims.grant) || typeof claims.bnd !== 'string') return null;
  const bound = enc.encode(await binding(req.headers.get('user-agent') ?? '', `key:${key.id}`, ''));
  const bnd = enc.encode(claims.bnd);
  return bnd.length === bound.length && crypto.subtle.timingSafeEqual(bnd, bound) ? claims : null;
}

/** The body, read to at most MAX_BODY bytes; null when it is larger. */
async function readCapped(req: Request): Promise<Uint8Array | null> {
  const declared = req.headers.get('content-length');
  if (declared !== null) {
    // HTTP framing holds the stream to the declared length.
    return Number(declared) > MAX_BODY ? null : new Uint8Array(await req.arrayBuffer());
  }
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) { await reader.cancel(); return null; }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  chunks.reduce((at, c) => (all.set(c, at), at + c.byteLength), 0);
  return all;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const validId = (id: unknown) => id === null || typeof id === 'string' || Number.isSafeInteger(id);

/** mcp/read.rs calls: the number of JSON-RPC messages in the body, or null if it is not JSON-RPC. */
function calls(value: unknown): number | null {
  const items = Array.isArray(value) ? value : isObject(value) ? [value] : [];
  if (items.length === 0) return null;
  for (const m of items) {
    if (!isObject(m) || m.jsonrpc !== '2.0' || ('id' in m && !validId(m.id))) return null;
    if (!('method' in m)) {
      // A response to a request the server sent: an id and exactly one of result or error.
      if (!('id' in m) || ('result' in m) === ('error' in m) || ('error' in m && !isObject(m.error))) return null;
      continue;
    }
    if (typeof m.method !== 'string' || ('params' in m && (m.params === null || typeof m.params !== 'object'))) return null;
    const params = m.params as Record<string, unknown> | undefined;
    if ((m.method === 'tools/call' || m.method === 'prompts/get') && typeof params?.name !== 'string') return null;
    if (m.method === 'resources/read' && typeof params?.uri !== 'string') return null;
  }
  return items.length;
}

/** Isolate-local grant counters by token id, pruned of expired tokens as the map grows. */
const grants = new Map<string, Grant>();
function charge(claims: { jti: string; grant: number; exp: number }, cost: number, now: number): boolean {
  let g = grants.get(claims.jti);
  if (!g) {
    if (grants.size >= 10_000) for (const [jti, e] of grants) if (e.exp <= now) grants.delete(jti);
    g = { left: claims.grant, exp: claims.exp };
    grants.set(claims.jti, g);
  }
  if (g.left < cost) return false;
  g.left -= cost;
  return true;
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url), now = Date.now() / 1000;
    const key = await apiKey(req.headers.get('x-api-key'), env);
    const claims = key && await accessToken(req.headers.get('x-access-token'), req, env, key, url.origin, now);
    if (!claims) return refuse(401, 'invalid_or_expired_token');

    let body: Uint8Array | null = null;
    let cost = 1; // a request with no call at all counts as one (charge.rs call_count)
    if (req.method === 'POST') {
      const type = req.headers.get('content-type')?.split(';')[0].trim().toLowerCase();
      const encoding = req.headers.get('content-encoding')?.trim().toLowerCase();
      if (type !== 'application/json' || (encoding && encoding !== 'identity')) return refuse(415, 'unsupported_media_type');
      body = await readCapped(req);
      if (!body) return refuse(413, 'body_too_large');
      let value: unknown;
      try { value = JSON.parse(utf8.decode(body)); } catch { return rpcError(-32700, 'Parse error'); }
      const n = calls(value);
      if (n === null) return rpcError(-32600, 'Invalid Request');
      cost = n;
    }
    if (!charge(claims, cost, now)) return refuse(402, 'grant_spent');

    const headers = new Headers(req.headers);
    for (const name of ['authorization', 'x-access-token', 'x-api-key']) headers.delete(name);
    // The origin's response as it comes: its body streams through, never read here.
    return fetch(env.ORIGIN_URL + url.pathname + url.search, { method: req.method, headers, body, redirect: 'manual' });
  },
};
