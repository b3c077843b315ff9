// The official x402 facilitator (`x402Facilitator` of @x402/core with the `exact` EVM scheme of
// @x402/evm), served over HTTP as the x402 v2 facilitator interface: POST /verify, POST /settle,
// GET /supported. It signs and pays for settlements with its own account on the local chain.
// `faults` lets a test make an endpoint fail the way a real one can: answer 500, hang, or (for
// /settle) refuse the payment the way a facilitator does when the funds moved after /verify.
import http from 'node:http';
import { x402Facilitator } from '@x402/core/facilitator';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/facilitator';

const MAX_BODY = 64 * 1024;

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { reject(e); } });
    req.on('error', reject);
  });
}

/** Starts the facilitator for `chain` (see chain.mjs); resolves with its URL. */
export async function startFacilitator(chain, { port = 0 } = {}) {
  const wallet = chain.wallet(chain.facilitatorAccount);
  const signer = toFacilitatorEvmSigner({ ...wallet, address: chain.facilitatorAccount.address });
  const facilitator = new x402Facilitator().register(chain.network, new ExactEvmScheme(signer));
  const faults = { verify: 'ok', settle: 'ok' };
  const calls = { verify: 0, settle: 0 };
  // One settlement at a time: its signer sends one transaction after another, never two with
  // the same account nonce.
  let settling = Promise.resolve();
  const server = http.createServer(async (req, res) => {
    const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    try {
      if (req.method === 'GET' && req.url === '/supported') return send(200, facilitator.getSupported());
      if (req.method !== 'POST' || !['/verify', '/settle'].includes(req.url)) return send(404, { error: 'not found' });
      const fault = faults[req.url.slice(1)];
      if (fault === 'hang') return;
      if (fault === 'error') return send(500, { error: 'facilitator failure (injected)' });
      if (fault === 'refuse' && req.url === '/settle') return send(200, { success: false, errorReason: 'insufficient_funds', transaction: '', network: '' });
      const { paymentPayload, paymentRequirements } = await readJson(req);
      if (req.url === '/verify') {
        calls.verify += 1;
        return send(200, await facilitator.verify(paymentPayload, paymentRequirements));
      }
      calls.settle += 1;
      const run = settling.then(() => facilitator.settle(paymentPayload, paymentRequirements));
      settling = run.catch(() => {});
      return send(200, await run);
    } catch (e) {
      send(500, { error: String(e?.message ?? e).slice(0, 200) });
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    faults,
    calls,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
