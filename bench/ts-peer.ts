// The benchmark's hand-written peer: what the gateway's token fast path does, written directly in
// TypeScript on WebCrypto. It checks the same tokens (gatehouse-core token.rs, jwt.rs, api_key.rs:
// HS256 compact JWS, kid from TOKEN_SIGNING_KEYS, issuer, audience, lifetime, binding to
// user agent and client key), strips the gateway's credentials, and forwards. No quota, grant
// count or revocation: those need state, and this is the stateless check alone.
interface Env { ORIGIN_URL: string; TOKEN_SIGNING_KEYS: string }
const enc = new TextEncoder();
const b64 = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const b64url = (b: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
let ring: Map<string, CryptoKey> | undefined;
async function keys(raw: string): Promise<Map<string, CryptoKey>> {
  const entries = raw.split(',').map((e) => e.trim().split(/:(.*)/s));
  return new Map(await Promise.all(entries.map(async ([kid, secret]) =>
    [kid, await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])] as const)));
}
async function jws(token: string | null, env: Env): Promise<any> {
  const parts = token && token.length <= 4096 ? token.split('.') : [];
  if (parts.length !== 3) return null;
  const head = JSON.parse(new TextDecoder().decode(b64(parts[0])));
  const key = head.alg === 'HS256' && (ring ??= await keys(env.TOKEN_SIGNING_KEYS)).get(head.kid);
  if (!key || !(await crypto.subtle.verify('HMAC', key, b64(parts[2]), enc.encode(`${parts[0]}.${parts[1]}`)))) return null;
  return JSON.parse(new TextDecoder().decode(b64(parts[1])));
}
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
export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url), now = Date.now() / 1000;
    const apiKey = req.headers.get('x-api-key');
    const key = apiKey?.startsWith('gk_') ? await jws(apiKey.slice(3), env).catch(() => null) : null;
    const claims = key?.typ === 'gatehouse/api-key' ? await jws(req.headers.get('x-access-token'), env).catch(() => null) : null;
    const bound = claims && await binding(req.headers.get('user-agent') ?? '', `key:${key.id}`, '');
    if (!claims || claims.iss !== 'gatehouse' || claims.aud !== url.origin || now >= claims.exp || claims.iat > now + 5
      || typeof claims.bnd !== 'string' || claims.bnd.length !== bound.length
      || !crypto.subtle.timingSafeEqual(enc.encode(claims.bnd), enc.encode(bound))) {
      return Response.json({ error: 'invalid_or_expired_token' }, { status: 401 });
    }
    const headers = new Headers(req.headers);
    for (const name of ['authorization', 'x-access-token', 'x-api-key']) headers.delete(name);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, { method: req.method, headers, body: req.body, redirect: 'manual' });
  },
};
