// Helpers for the attack suites (tests/attack1*.test.mjs): requests as a hostile client sends
// them, and the quickest way to a 402 and a token.
import assert from 'node:assert/strict';
import { solve } from './pow-flow.mjs';

export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
export const L402_ROOT_KEY = 'l402-root-key-0123456789abcdef0123456789';
export const call = (id, name = 'echo') => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { message: `m${id}` } } });
export const batch = (n) => Array.from({ length: n }, (_, i) => call(i + 1));
export const remainingOf = (res) => Number(res.headers.get('ratelimit')?.match(/;r=(\d+)/)?.[1]);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function send(url, method, body, headers = {}) {
  const res = await fetch(url, { method, headers: { ...MCP_HEADERS, ...headers }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch {
    // An SSE answer from the SDK origin: its first data line.
    try { json = JSON.parse(text.split('\n').find((l) => l.startsWith('data:')).slice(5)); } catch {}
  }
  return { status: res.status, headers: res.headers, body: json, text };
}
export const post = (url, body, headers) => send(url, 'POST', body, headers);

export async function exhaust(url, headers, limit = 50) {
  for (let i = 0; i < limit; i++) {
    const r = await post(url, call(i), headers);
    if (r.status === 402) return r;
  }
  throw new Error(`no 402 after ${limit} calls`);
}

export async function buyToken(verifyBase, denied, headers) {
  const pow = denied.body.challenges.find((c) => c.type === 'pow');
  const r = await post(`${verifyBase}/api/verify-challenge`, { challenge_id: pow.challenge_id, solution: { nonce: await solve(pow) } }, headers);
  assert.equal(r.status, 200, r.text);
  return r.body.access_token;
}

export const count = async (db, sql) => (await db.prepare(sql).first()).n;
export const tally = (statuses) => statuses.reduce((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
