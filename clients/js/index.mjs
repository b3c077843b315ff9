// A fetch for MCP clients in front of a Gatehouse gateway. Stock MCP clients throw on HTTP 402;
// pass this fetch to the official SDK's transport and a 402 becomes a short pause instead:
//
//   const transport = new StreamableHTTPClientTransport(url, { fetch: gatehouseFetch() });
//
// On a 402 it reads the offered challenges (the JSON body's `challenges`, in the gateway's order)
// and answers the first it can: a proof of work it solves, or, given a wallet, an L402 invoice it
// pays. It POSTs the solution or the preimage to `verify_url`, keeps the access token, and retries
// the request with it in `x-access-token` (so `Authorization` stays free for OAuth). Concurrent requests share one solve. A token the gateway calls invalid or
// expired (401 invalid_or_expired_token) is dropped and the request retried without it.
import { solvePow } from './pow.mjs';

export { solvePow, leadingZeroBits, digest } from './pow.mjs';

const TOKEN_HEADER = 'x-access-token';

async function bodyJson(response) {
  try { return await response.clone().json(); } catch { return null; }
}

function withToken(init, token) {
  const headers = new Headers(init?.headers);
  // Tell the gateway this client acts on HTTP 402, so it never gets challenges in-band instead.
  headers.set('gatehouse-accept', '402');
  if (token) headers.set(TOKEN_HEADER, token);
  else headers.delete(TOKEN_HEADER);
  return { ...init, headers };
}

/**
 * @param {object} [options]
 * @param {typeof fetch} [options.fetch] the fetch underneath (default: globalThis.fetch)
 * @param {number} [options.maxRounds] challenges to answer for one request before giving up (3)
 * @param {number} [options.solveBudgetMs] how long one solve may take (30 000)
 * @param {number} [options.maxUnavailableWaits] 503s with a short Retry-After to wait out (10)
 * @param {{ payInvoice(args: { invoice: string }): Promise<{ preimage: string }> }} [options.wallet]
 *   pays L402 invoices (the same shape as @getalby/lightning-tools' wallets); without one, only
 *   proof-of-work challenges are answered
 * @param {(event: object) => void} [options.onEvent] sees `challenge`, `solved`, `paid`, `redeemed`, `token_dropped`
 */
export function gatehouseFetch({ fetch: inner = globalThis.fetch, wallet, maxRounds = 3, maxUnavailableWaits = 10, solveBudgetMs = 30_000, onEvent = () => {} } = {}) {
  let token = null;
  let inflight = null; // one solve at a time, shared by every request that meets a 402

  // The redemption must come from the same client as the request (the token is bound to its
  // API key and user agent), so it carries the request's own headers, less the MCP ones.
  function identityHeaders(init) {
    const headers = new Headers(init?.headers);
    for (const name of [...headers.keys()]) {
      if (name === TOKEN_HEADER || name === 'accept' || name === 'last-event-id' || name.startsWith('mcp-') || name.startsWith('content-')) headers.delete(name);
    }
    headers.set('content-type', 'application/json');
    return headers;
  }

  async function prove(challenge) {
    const started = Date.now();
    onEvent({ type: 'challenge', kind: challenge.type, challenge_id: challenge.challenge_id });
    if (challenge.type === 'l402') {
      const { preimage } = await wallet.payInvoice({ invoice: challenge.invoice });
      onEvent({ type: 'paid', challenge_id: challenge.challenge_id, sats: challenge.amount_sats, ms: Date.now() - started });
      return { payment_proof: { preimage } };
    }
    const nonce = await solvePow(challenge.salt, challenge.difficulty, { deadline: started + solveBudgetMs });
    onEvent({ type: 'solved', challenge_id: challenge.challenge_id, ms: Date.now() - started });
    return { solution: { nonce } };
  }

  const answerable = (c) => (c.type === 'pow' && c.algorithm === 'sha256') || (c.type === 'l402' && wallet);

  async function answer(challenge, init) {
    const proof = await prove(challenge);
    const res = await inner(challenge.verify_url, {
      method: 'POST',
      headers: identityHeaders(init),
      body: JSON.stringify({ challenge_id: challenge.challenge_id, ...proof }),
    });
    const body = await bodyJson(res);
    if (res.status !== 200 || !body?.access_token) {
      throw new Error(`redemption refused: ${res.status} ${body?.error ?? ''}`);
    }
    onEvent({ type: 'redeemed', challenge_id: challenge.challenge_id, grant: body.grant, expires_in: body.expires_in });
    return body.access_token;
  }

  async function renew(staleToken, response, init) {
    if (token !== staleToken) return; // someone already got a fresh token
    if (!inflight) {
      inflight = (async () => {
        const body = await bodyJson(response);
        const offer = body?.challenges?.find(answerable);
        if (!offer) throw new Error('402 without a challenge this client can answer');
        token = await answer(offer, init);
      })().finally(() => { inflight = null; });
    }
    await inflight;
  }

  return async function fetchThroughGate(input, init) {
    let waits = 0; // 503 waits, counted apart from challenge rounds
    for (let round = 0; ; round++) {
      const sent = token;
      const response = await inner(input, withToken(init, sent));
      if (response.status === 401 && sent) {
        const body = await bodyJson(response);
        if (body?.error === 'invalid_or_expired_token') {
          if (token === sent) token = null;
          onEvent({ type: 'token_dropped' });
          continue;
        }
      }
      // A gateway whose own storage failed says when to come back; a short wait is recovery.
      if (response.status === 503 && waits < maxUnavailableWaits) {
        const wait = Number(response.headers.get('retry-after'));
        if (wait > 0 && wait <= 10) {
          waits++;
          round--;
          onEvent({ type: 'unavailable', retry_after: wait });
          await response.arrayBuffer().catch(() => {});
          await new Promise((r) => setTimeout(r, wait * 1000));
          continue;
        }
      }
      if (response.status !== 402 || round >= maxRounds) return response;
      await renew(sent, response, init);
    }
  };
}
