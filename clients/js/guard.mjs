// What the client kit answers, where, with what, and how much it may pay (docs/PROTOCOL.md §1).
// The same rules as the Rust kit's `challenge.rs` and `budget.rs` and the Python flow:
//
// - only a challenge the gateway marked (`Gatehouse-Challenge: 1`; the gateway strips that field
//   from every origin response, so an origin's own 402 reaches the caller unanswered);
// - only at a `verify_url` on the origin of the request that met it (scheme, host and port,
//   compared after URL parsing; a relative `verify_url` resolves against the request's URL);
// - the redemption carries only the headers that bind the token to the caller (the gateway binds
//   to the OAuth bearer and its rate-key header), never cookies, and follows no redirect;
// - payments are capped per invoice and in total, on the invoice's own amount, and reserved
//   against the total before paying. A failed payment keeps its reservation: a wallet's error
//   does not prove that nothing was sent.
import { invoiceAmount } from './bolt11.mjs';
import { READ_DEADLINE_MS, REQUEST_DEADLINE_MS, discard, readJson, withDeadline } from './read.mjs';
import { wire } from './wire.mjs';

export const CHALLENGE_MARKER = wire.headers.challenge_marker;
/** `Authorization` (OAuth bearer), `User-Agent`, and the rate-key header most gateways use. */
export const DEFAULT_IDENTITY_HEADERS = wire.identity_headers;
export const DEFAULT_MAX_SATS_PER_INVOICE = 10;
export const DEFAULT_MAX_SATS_TOTAL = 100;

export const isGatewayChallenge = (response) => response.headers.get(CHALLENGE_MARKER)?.trim() === wire.header_values.challenge_marker;

/** The URL a fetch input addresses (a string, a URL or a Request), or null. */
export function requestUrl(input) {
  try {
    return new URL(typeof input?.url === 'string' ? input.url : String(input));
  } catch {
    return null;
  }
}

/** `verifyUrl` resolved against the request's URL if it is HTTP(S) on the same origin, else null. */
export function verifyUrlFor(request, verifyUrl) {
  if (!request || typeof verifyUrl !== 'string') return null;
  let target;
  try {
    target = new URL(verifyUrl, request);
  } catch {
    return null;
  }
  const web = (u) => u.protocol === 'http:' || u.protocol === 'https:';
  return web(request) && web(target) && request.origin === target.origin ? target : null;
}

/** The headers a redemption may carry: the allowed `names` found in `sources`, never a cookie. */
export function identityHeaders(names, ...sources) {
  const allowed = new Set(names.map((n) => n.toLowerCase()));
  allowed.delete('cookie');
  const headers = new Headers();
  for (const source of sources) {
    for (const [name, value] of new Headers(source ?? undefined)) if (allowed.has(name)) headers.set(name, value);
  }
  headers.set('content-type', 'application/json');
  return headers;
}

/**
 * POSTs a proof to `verifyUrl` (a URL `verifyUrlFor` returned); resolves to the redemption.
 * The exchange has `deadlineMs` in all and the answer's body `readDeadlineMs` (`read.mjs`).
 */
export async function redeem(fetchFn, verifyUrl, headers, body, { deadlineMs = REQUEST_DEADLINE_MS, readDeadlineMs = READ_DEADLINE_MS } = {}) {
  const init = { method: 'POST', headers, body: JSON.stringify(body), redirect: 'manual', credentials: 'omit' };
  const res = await fetchFn(verifyUrl.href, withDeadline(init, deadlineMs));
  const redirected = res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400);
  if (redirected) discard(res);
  const answer = redirected ? null : await readJson(res, undefined, readDeadlineMs);
  if (res.status !== 200 || typeof answer?.access_token !== 'string') {
    throw new Error(`redemption refused: ${res.status} ${redirected ? 'redirect (not followed)' : answer?.error ?? ''}`.trim());
  }
  return answer;
}

const wholeSats = (n, name) => {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${name} must be a whole number of sats`);
  return BigInt(n) * 1000n;
};

/** Caps on what one client instance pays, in sats per invoice and in total. */
export class Budget {
  constructor({ maxSatsPerInvoice = DEFAULT_MAX_SATS_PER_INVOICE, maxSatsTotal = DEFAULT_MAX_SATS_TOTAL } = {}) {
    this.perInvoiceMsat = wholeSats(maxSatsPerInvoice, 'maxSatsPerInvoice');
    this.totalMsat = wholeSats(maxSatsTotal, 'maxSatsTotal');
    this.reservedMsat = 0n;
  }

  /** Reserves the invoice's amount: `{ msat }`, or `{ refused, msat? }` and nothing reserved. */
  reserve(invoice) {
    const { msat, problem } = invoiceAmount(invoice);
    if (problem) return { refused: problem };
    if (msat > this.perInvoiceMsat) return { refused: 'over_invoice_cap', msat };
    if (this.reservedMsat + msat > this.totalMsat) return { refused: 'over_total_cap', msat };
    this.reservedMsat += msat;
    return { msat };
  }
}
