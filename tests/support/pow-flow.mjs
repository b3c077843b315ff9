// Small helpers for driving the 402 flow by hand in tests.
import { solvePow } from '../../clients/js/pow.mjs';

export const JSON_RPC_CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

/** POSTs to the MCP endpoint with the given headers until the gateway answers 402. */
export async function exhaust(mcpUrl, headers = {}, limit = 500) {
  for (let i = 0; i < limit; i++) {
    const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON_RPC_CALL });
    if (res.status === 402) return res;
    await res.arrayBuffer();
  }
  throw new Error(`no 402 after ${limit} requests`);
}

export async function solve(challenge) {
  return solvePow(challenge.salt, challenge.difficulty);
}

export async function redeem(verifyUrl, body, headers = {}) {
  const res = await fetch(verifyUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
