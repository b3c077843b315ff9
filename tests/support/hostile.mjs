// Servers that play the adversary for the client kit: a listener that records every request it
// gets (a foreign verify URL), and a server that answers with a 402 shaped like the gateway's,
// marked or not, whose challenges name the verify URLs a test chooses. Its own `/verify` records
// what it was sent and, if asked, redirects elsewhere.
import http from 'node:http';
import { errorCode, wire } from '../../clients/js/wire.mjs';

const { headers: H, header_values: V, challenge_types: TYPES } = wire;

async function listen(handler) {
  const sockets = new Set();
  const server = http.createServer(handler);
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

function record(req, hits) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const hit = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      hits.push(hit);
      resolve(hit);
    });
  });
}

/** Records every request and answers 200 with a token, as a collector of credentials would. */
export async function startListener() {
  const hits = [];
  const server = await listen(async (req, res) => {
    await record(req, hits);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'collected', expires_in: 60 }));
  });
  return { ...server, hits };
}

/**
 * Answers every request but `/verify` with a 402 carrying `challenges` (a function of the
 * server's own URL), with `Gatehouse-Challenge: 1` when `marked`; with `inBand`, a 200 with a
 * JSON-RPC -32042 error for the request's id instead. `/verify` records the redemption and
 * redirects to `redirectTo` if given, else hands out a token.
 */
export async function startHostile({ challenges, marked = true, redirectTo, inBand = false } = {}) {
  const hits = [];
  let self;
  const server = await listen(async (req, res) => {
    const hit = await record(req, hits);
    if (hit.path === '/verify') {
      if (redirectTo) res.writeHead(307, { location: redirectTo }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'from-hostile', expires_in: 60 }));
      return;
    }
    const headers = { 'content-type': 'application/json', [H.retry_after]: '1' };
    if (marked) headers[H.challenge_marker] = V.challenge_marker;
    if (inBand) {
      let id = null;
      try { id = JSON.parse(hit.body).id ?? null; } catch {}
      const data = { httpStatus: 402, retry_after: 1, challenges: challenges(self) };
      res.writeHead(200, headers).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: wire.jsonrpc.payment_required, message: 'Payment required', data } }));
      return;
    }
    res.writeHead(402, headers).end(JSON.stringify({ error: errorCode('quota_exhausted'), retry_after: 1, challenges: challenges(self) }));
  });
  self = server.url;
  return { ...server, hits };
}

/** A proof-of-work offer as the gateway writes it, redeemable at `verifyUrl`. */
export const powOffer = (verifyUrl) => ({
  type: TYPES.pow, challenge_id: 'ab'.repeat(16), salt: 'cd'.repeat(16), difficulty: 1, algorithm: wire.pow_algorithm, expires_at: 4_102_444_800, verify_url: verifyUrl,
});

/** An L402 offer as the gateway writes it; `amountSats` is what the JSON claims, not the invoice. */
export const l402Offer = (invoice, verifyUrl, amountSats = 1) => ({
  type: TYPES.l402, challenge_id: 'ef'.repeat(16), macaroon: 'AgJCAAA=', invoice, payment_hash: '00'.repeat(32), amount_sats: amountSats, expires_at: 4_102_444_800, verify_url: verifyUrl,
});
