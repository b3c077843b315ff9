// x402 for the tests: one real local chain (Hardhat's node, our EIP-3009 token) and one official
// facilitator per test file, the way LNbits is started for the L402 tests, plus the official
// x402 client (`@x402/fetch`) for a payer account.
import { x402Client, wrapFetchWithPayment } from '@x402/fetch';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { startChain, gatewayVars } from '../../demo/x402/chain.mjs';
import { startFacilitator } from '../../demo/x402/facilitator.mjs';

export const PRICE_PER_CALL = 1_000;

/** Starts the chain and the facilitator; `vars(extra)` are a gateway's variables for them. */
export async function startX402({ payers = 4 } = {}) {
  const chain = await startChain({ payers });
  const facilitator = await startFacilitator(chain);
  return {
    chain,
    facilitator,
    vars: (extra = {}) => ({ CHALLENGE_OFFERS: 'x402,pow', ...gatewayVars(chain, facilitator.url, PRICE_PER_CALL), ...extra }),
    stop: async () => { await facilitator.close(); chain.stop(); },
  };
}

/**
 * The official x402 client for `account` (a viem local account), signing `exact` on any eip155
 * network. Its spend controls admit only well-known assets by default, so the local token is
 * allowed explicitly, capped per payment (`cap`, atomic units) the way an agent would cap it; a
 * test that forges requirements on purpose passes `cap: false` to allow any asset.
 */
export function payer(account, { chain, cap = '100000' } = {}) {
  const spendControls = cap === false
    ? { allowedAssets: true }
    : { allowedAssets: [{ network: chain.network, asset: chain.token, maxAmountPerPayment: cap }] };
  return x402Client.fromConfig({ schemes: [{ network: 'eip155:*', client: new ExactEvmScheme(account) }], spendControls });
}

/** A stock `fetch` that pays 402s with x402 from `account`. */
export function x402Fetch(account, chain, base = fetch) {
  return wrapFetchWithPayment(base, payer(account, { chain }));
}

/** The JSON inside a base64 x402 header. */
export const decodeHeader = (value) => JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
export const encodeHeader = (object) => Buffer.from(JSON.stringify(object)).toString('base64');
