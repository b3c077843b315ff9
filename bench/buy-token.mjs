// Buys an access token the way a client does: meet the 402, solve its proof of work, redeem it,
// and retry with the token (docs/PROTOCOL.md §1-§3). The gateway must already be at quota for
// `key`. Returns the token with the round trip's timings.
import { request } from './load.mjs';
import { solvePow } from '../clients/js/pow.mjs';
import { testKey } from '../tests/support/gateway.mjs';

export async function buyToken({ url, host, headers, body }, key) {
  const started = performance.now();
  const mine = { ...headers, 'x-api-key': testKey(key) };
  const denied = await request({ url, host, headers: mine, body });
  const deniedAt = performance.now();
  if (denied.status !== 402) throw new Error(`expected 402, got ${denied.status}`);
  const [c] = JSON.parse(denied.body).challenges;
  const nonce = await solvePow(c.salt, c.difficulty);
  const solvedAt = performance.now();
  const redeemed = await request({
    url: new URL('/api/verify-challenge', url).href, host,
    headers: { 'content-type': 'application/json', 'user-agent': headers['user-agent'], 'x-api-key': testKey(key) },
    body: JSON.stringify({ challenge_id: c.challenge_id, solution: { nonce } }),
  });
  if (redeemed.status !== 200) throw new Error(`redeem: ${redeemed.status} ${redeemed.body}`);
  const token = JSON.parse(redeemed.body).access_token;
  const retried = await request({ url, host, headers: { ...mine, 'x-access-token': token }, body });
  if (retried.status !== 200) throw new Error(`retry: ${retried.status}`);
  return { token, total: performance.now() - started, solve: solvedAt - deniedAt, difficulty: c.difficulty };
}

/** Spends the free request of the minute for `key`, then buys a token. */
export async function spendAndBuy(req, key) {
  await request({ ...req, headers: { ...req.headers, 'x-api-key': testKey(key) } });
  return buyToken(req, key);
}
