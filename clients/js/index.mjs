// A fetch for MCP clients in front of a Gatehouse gateway. Stock MCP clients throw on HTTP 402;
// pass this fetch to the official SDK's transport and a 402 becomes a short pause instead:
//
//   const transport = new StreamableHTTPClientTransport(url, { fetch: gatehouseFetch() });
//
// On a 402 the gateway marked as its own (`Gatehouse-Challenge`), it reads the offered challenges
// (the JSON body's `challenges`, in the gateway's order) and answers the first it can: a proof of
// work it solves, given a wallet, an L402 invoice within its caps that it pays, or, given an x402
// signer, an x402 requirement within its caps that it signs and sends with the retried request
// (`x402.mjs`: one payment per request, settled by the gateway). For the first two it POSTs the
// solution or the preimage to `verify_url`, only when that is on the request's own origin, keeps
// the access token for that origin, and retries the request with it in `x-access-token` (so
// `Authorization` stays free for OAuth). Any other 402 goes back to the caller unanswered; the
// rules are in `guard.mjs`. Concurrent requests share one solve. A token the gateway calls
// invalid or expired (401 invalid_or_expired_token) is dropped and the request retried without it.
// Every body it reads is bounded in bytes and time, and every body it drops is cancelled
// (`read.mjs`); a body it has no need to read goes to the caller untouched.
import { MAX_DIFFICULTY, POW_ALGORITHM, solvePow } from './pow.mjs';
import { Budget, DEFAULT_IDENTITY_HEADERS, identityHeaders, isGatewayChallenge, redeem, requestUrl, verifyUrlFor } from './guard.mjs';
import { MAX_BODY_BYTES, READ_DEADLINE_MS, REQUEST_DEADLINE_MS, discard, parseJson, readCapped } from './read.mjs';
import { errorCode, wire } from './wire.mjs';
import { X402Budget, payableRequirement, paymentRequired, paymentSignature } from './x402.mjs';

export { solvePow, leadingZeroBits, digest, MAX_DIFFICULTY, POW_ALGORITHM } from './pow.mjs';
export { invoiceAmount } from './bolt11.mjs';
export { wire } from './wire.mjs';
export { X402Budget, payableRequirement, paymentRequired, paymentSignature } from './x402.mjs';
export * from './guard.mjs';
export * from './read.mjs';

const TOKEN_HEADER = wire.headers.access_token;
const TOKEN_REFUSED = errorCode('invalid_or_expired_token');
const { pow: POW, l402: L402, x402: X402 } = wire.challenge_types;

function withToken(init, token, payment) {
  const headers = new Headers(init?.headers);
  if (payment) headers.set(wire.headers.payment_signature, payment);
  // Tell the gateway this client acts on HTTP 402, so it never gets challenges in-band instead.
  headers.set(wire.headers.accept_402, wire.header_values.accept_402);
  if (token) headers.set(TOKEN_HEADER, token);
  else headers.delete(TOKEN_HEADER);
  // Never follow a redirect with the gateway's credentials on: a redirect is handed back, so
  // neither the token nor the API key reaches another host, and no 402 met there is paid.
  return { ...init, headers, redirect: 'manual' };
}

/**
 * @param {object} [options]
 * @param {typeof fetch} [options.fetch] the fetch underneath (default: globalThis.fetch)
 * @param {number} [options.maxRounds] challenges to answer for one request before giving up (3)
 * @param {number} [options.solveBudgetMs] how long one solve may take (30 000)
 * @param {number} [options.maxUnavailableWaits] 503s with a short Retry-After to wait out (10)
 * @param {number} [options.readDeadlineMs] how long a 401's, a 402's or a redemption's body may
 *   take to arrive once its headers have (10 000); a body still coming then is not answered
 * @param {number} [options.redeemDeadlineMs] how long a redemption may take in all (30 000)
 * @param {{ payInvoice(args: { invoice: string }): Promise<{ preimage: string }> }} [options.wallet]
 *   pays L402 invoices (the same shape as @getalby/lightning-tools' wallets); without one, only
 *   proof-of-work challenges are answered
 * @param {number} [options.maxSatsPerInvoice] the most one invoice may ask, read from the invoice (10)
 * @param {number} [options.maxSatsTotal] the most this fetch pays in all (100)
 * @param {{ signer: { address: string, signTypedData: Function }, maxAtomicPerPayment?: bigint|number|string,
 *   maxAtomicTotal?: bigint|number|string, allowedAssets?: { network: string, asset: string }[] }} [options.x402]
 *   pays x402 offers with EIP-3009 authorizations from `signer`, each request paying for itself once,
 *   capped in the asset's atomic units (10 000 per payment, 1 000 000 in all by default), only in
 *   `allowedAssets` (default: the first asset it pays in)
 * @param {string[]} [options.identityHeaders] the request headers a redemption carries, to bind the
 *   token to the caller (`authorization`, `user-agent`, `x-api-key`); add the gateway's
 *   `RATE_KEY_HEADER` if it is another
 * @param {(event: object) => void} [options.onEvent] sees `challenge`, `solved`, `paid`, `redeemed`,
 *   `token_dropped`, `unavailable`, and `ignored` (a 402 or an offer it will not answer, with a `reason`)
 */
export function gatehouseFetch({
  fetch: inner = globalThis.fetch, wallet, maxRounds = 3, maxUnavailableWaits = 10, solveBudgetMs = 30_000,
  readDeadlineMs = READ_DEADLINE_MS, redeemDeadlineMs = REQUEST_DEADLINE_MS,
  maxSatsPerInvoice, maxSatsTotal, identityHeaders: identityNames = DEFAULT_IDENTITY_HEADERS, onEvent = () => {}, x402,
} = {}) {
  const budget = new Budget({ maxSatsPerInvoice, maxSatsTotal });
  const x402Budget = x402 && new X402Budget(x402);
  const tokens = new Map(); // origin -> access token: a token goes only to the origin that issued it
  const inflight = new Map(); // origin -> the one solve under way for it

  /** The first offer this client may answer, with its verify URL; an L402 one is reserved. */
  function choose(challenges, url) {
    for (const c of Array.isArray(challenges) ? challenges : []) {
      const kind = c?.type;
      if (kind === X402) continue; // paid per request by `pay`, never redeemed for a token
      const verify = verifyUrlFor(url, c?.verify_url);
      if (!verify) {
        onEvent({ type: 'ignored', reason: 'foreign_verify_url', kind });
        continue;
      }
      if (kind === POW && c.algorithm === POW_ALGORITHM && typeof c.salt === 'string' && Number.isInteger(c.difficulty) && c.difficulty >= 0 && c.difficulty <= MAX_DIFFICULTY) {
        return { challenge: c, verify };
      }
      if (kind === L402 && wallet && typeof c.invoice === 'string') {
        const { msat, refused } = budget.reserve(c.invoice);
        if (!refused) return { challenge: c, verify, msat };
        onEvent({ type: 'ignored', reason: refused, kind, sats: msat === undefined ? undefined : Number(msat) / 1000 });
      }
    }
    return null;
  }

  async function prove({ challenge, msat }) {
    const started = Date.now();
    onEvent({ type: 'challenge', kind: challenge.type, challenge_id: challenge.challenge_id });
    if (challenge.type === L402) {
      const { preimage } = await wallet.payInvoice({ invoice: challenge.invoice });
      onEvent({ type: 'paid', challenge_id: challenge.challenge_id, sats: Number(msat) / 1000, ms: Date.now() - started });
      return { payment_proof: { preimage } };
    }
    const nonce = await solvePow(challenge.salt, challenge.difficulty, { deadline: started + solveBudgetMs });
    onEvent({ type: 'solved', challenge_id: challenge.challenge_id, ms: Date.now() - started });
    return { solution: { nonce } };
  }

  async function answer(plan, input, init) {
    const proof = await prove(plan);
    const headers = identityHeaders(identityNames, typeof input?.url === 'string' ? input.headers : undefined, init?.headers);
    const body = await redeem(inner, plan.verify, headers, { challenge_id: plan.challenge.challenge_id, ...proof }, { deadlineMs: redeemDeadlineMs, readDeadlineMs });
    onEvent({ type: 'redeemed', challenge_id: plan.challenge.challenge_id, grant: body.grant, expires_in: body.expires_in });
    return body.access_token;
  }

  /**
   * Gets a fresh token for the request's origin; false when the 402 is not one to answer.
   * `challenges` are those of the 402's body (read once per 402 by the caller of this).
   */
  async function renew(url, staleToken, response, challenges, input, init) {
    const { origin } = url;
    if ((tokens.get(origin) ?? null) !== staleToken) return true; // someone already got a fresh token
    if (!isGatewayChallenge(response)) {
      onEvent({ type: 'ignored', reason: 'unmarked_402' });
      return false;
    }
    let job = inflight.get(origin);
    if (!job) {
      job = (async () => {
        const plan = choose(challenges, url);
        if (!plan) return false;
        tokens.set(origin, await answer(plan, input, init));
        return true;
      })().finally(() => inflight.delete(origin));
      inflight.set(origin, job);
    }
    return job;
  }

  /** Whether the first offer this client could answer is x402 (the gateway's order decides). */
  function x402First(challenges) {
    for (const c of Array.isArray(challenges) ? challenges : []) {
      if (c?.type === X402) return Boolean(x402);
      if (c?.type === POW || (c?.type === L402 && wallet)) return false;
    }
    return false;
  }

  /** A PAYMENT-SIGNATURE for this request's 402, if x402 is the offer to answer and fits. */
  async function pay(url, response, challenges) {
    if (!x402 || !isGatewayChallenge(response)) return null;
    if (!x402First(challenges)) return null;
    const required = paymentRequired(response);
    const { accepted, refused } = payableRequirement(required, url);
    const overBudget = accepted && x402Budget.reserve(accepted);
    if (refused || overBudget) {
      onEvent({ type: 'ignored', reason: refused ?? overBudget, kind: X402, amount: accepted?.amount });
      return null;
    }
    onEvent({ type: 'challenge', kind: X402, amount: accepted.amount, network: accepted.network });
    return paymentSignature(x402.signer, required, accepted);
  }

  /**
   * Reads a 402 the gateway marked: its challenges, and the response to hand on in its place.
   * A body over the cap or past the deadline is no challenge of the gateway's: none is answered.
   */
  async function challengesOf(response) {
    if (!isGatewayChallenge(response)) return { response };
    const read = await readCapped(response, MAX_BODY_BYTES, readDeadlineMs);
    if (read.problem) onEvent({ type: 'ignored', reason: read.problem });
    return { challenges: parseJson(read.bytes)?.challenges, response: read.response };
  }

  return async function fetchThroughGate(input, init) {
    const url = requestUrl(input);
    let waits = 0; // 503 waits, counted apart from challenge rounds
    let payment = null; // this request's own x402 payment, for its next attempt only
    let paidThisCall = false;
    for (let round = 0; ; round++) {
      const sent = (url && tokens.get(url.origin)) ?? null;
      let response = await inner(input, withToken(init, sent, payment));
      if (payment && response.headers.get(wire.headers.payment_response)) onEvent({ type: 'paid', kind: X402 });
      // A payment answered 503 may have settled while the gateway gave up on its facilitator:
      // paying again could charge twice for one answer, so the 503 goes to the caller.
      if (payment && response.status === 503) {
        onEvent({ type: 'payment_unconfirmed', kind: X402 });
        return response;
      }
      payment = null;
      if (response.status === wire.errors[TOKEN_REFUSED] && sent) {
        const read = await readCapped(response, MAX_BODY_BYTES, readDeadlineMs);
        response = read.response;
        if (parseJson(read.bytes)?.error === TOKEN_REFUSED) {
          discard(response);
          if (tokens.get(url.origin) === sent) tokens.delete(url.origin);
          onEvent({ type: 'token_dropped' });
          continue;
        }
      }
      // A gateway whose own storage failed says when to come back; a short wait is recovery.
      if (response.status === 503 && waits < maxUnavailableWaits) {
        const wait = Number(response.headers.get(wire.headers.retry_after));
        if (wait > 0 && wait <= 10) {
          waits++;
          round--;
          onEvent({ type: 'unavailable', retry_after: wait });
          discard(response);
          await new Promise((r) => setTimeout(r, wait * 1000));
          continue;
        }
      }
      if (response.status !== 402 || round >= maxRounds || !url) return response;
      // One x402 payment per call: a paid request answered with another 402 is not paid again.
      if (paidThisCall) return response;
      const read = await challengesOf(response);
      response = read.response;
      let answered;
      try {
        payment = await pay(url, response, read.challenges);
        answered = Boolean(payment) || await renew(url, sent, response, read.challenges, input, init);
      } catch (err) {
        discard(response);
        throw err;
      }
      if (!answered) return response;
      paidThisCall = Boolean(payment);
      discard(response); // answered: the retry's response is the one that counts
    }
  };
}
