// Paying a Gatehouse 402 with x402 v2 (docs/PROTOCOL.md §8): the `exact` scheme on an EVM network
// with an EIP-3009 `transferWithAuthorization` signed by the caller's signer (any object with
// `address` and viem's `signTypedData`, such as a viem local account). The kit signs only what it
// may: a requirement of the gateway's own 402 for a resource on the request's own origin, within
// the per-payment and total caps, in atomic units of the asset. The payment goes in the retried
// request's `PAYMENT-SIGNATURE` header; the gateway settles it and answers `PAYMENT-RESPONSE`.
import { randomBytes } from 'node:crypto';
import { wire } from './wire.mjs';

export const DEFAULT_MAX_ATOMIC_PER_PAYMENT = 10_000n;
export const DEFAULT_MAX_ATOMIC_TOTAL = 1_000_000n;
const HEADER_CAP = 16 * 1024;

const AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
};

const isAddress = (s) => typeof s === 'string' && /^0x[0-9a-fA-F]{40}$/.test(s);
const isAmount = (s) => typeof s === 'string' && /^(0|[1-9][0-9]{0,38})$/.test(s);

/** The PaymentRequired of a 402's `PAYMENT-REQUIRED` header, or null. */
export function paymentRequired(response) {
  const raw = response.headers.get(wire.headers.payment_required);
  if (!raw || raw.length > HEADER_CAP) return null;
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}

/**
 * The one requirement of `required` this kit can pay for a request to `url`, or a reason not to:
 * x402 v2, a resource on the request's origin, and an `exact` EIP-3009 offer on an eip155 network.
 */
export function payableRequirement(required, url) {
  if (required?.x402Version !== 2) return { refused: 'x402_version' };
  let resource;
  try { resource = new URL(required.resource?.url); } catch { return { refused: 'resource_url' }; }
  if (resource.origin !== url.origin) return { refused: 'foreign_resource' };
  const accepted = (Array.isArray(required.accepts) ? required.accepts : []).find((a) => a?.scheme === 'exact'
    && /^eip155:[1-9][0-9]{0,19}$/.test(a.network) && isAddress(a.asset) && isAddress(a.payTo) && isAmount(a.amount)
    && Number.isInteger(a.maxTimeoutSeconds) && a.maxTimeoutSeconds > 0
    && typeof a.extra?.name === 'string' && typeof a.extra?.version === 'string'
    && (a.extra.assetTransferMethod ?? 'eip3009') === 'eip3009');
  return accepted ? { accepted } : { refused: 'no_exact_eip3009_offer' };
}

/**
 * What this fetch may still pay: per payment and in all, in the asset's atomic units. The caps
 * mean something only in one unit, so the fetch pays in the assets it was given
 * (`allowedAssets`: `{ network, asset }`), or else only in the first one it paid in: a 402
 * priced in another token or on another chain is not signed.
 */
export class X402Budget {
  constructor({ maxAtomicPerPayment = DEFAULT_MAX_ATOMIC_PER_PAYMENT, maxAtomicTotal = DEFAULT_MAX_ATOMIC_TOTAL, allowedAssets } = {}) {
    this.perPayment = BigInt(maxAtomicPerPayment);
    this.left = BigInt(maxAtomicTotal);
    this.assets = Array.isArray(allowedAssets) ? allowedAssets.map(assetKey) : null;
  }

  /** Takes `accepted.amount` from the budget; a reason when it does not fit. */
  reserve(accepted) {
    const asset = assetKey(accepted);
    if (this.assets ? !this.assets.includes(asset) : false) return 'asset_not_allowed';
    const value = BigInt(accepted.amount);
    if (value > this.perPayment) return 'over_payment_cap';
    if (value > this.left) return 'over_total_cap';
    this.left -= value;
    this.assets ??= [asset];
    return null;
  }
}

/** One asset on one network, as the budget compares them. */
const assetKey = (a) => `${String(a?.network)}|${String(a?.asset).toLowerCase()}`;

/** Signs `accepted` with `signer` and returns the PAYMENT-SIGNATURE header's value. */
export async function paymentSignature(signer, required, accepted, { nowS = Math.floor(Date.now() / 1000), nonce } = {}) {
  nonce ??= `0x${randomBytes(32).toString('hex')}`;
  const authorization = {
    from: signer.address,
    to: accepted.payTo,
    value: accepted.amount,
    validAfter: '0',
    validBefore: String(nowS + accepted.maxTimeoutSeconds),
    nonce,
  };
  const signature = await signer.signTypedData({
    domain: { name: accepted.extra.name, version: accepted.extra.version, chainId: Number(accepted.network.slice('eip155:'.length)), verifyingContract: accepted.asset },
    types: AUTHORIZATION_TYPES,
    primaryType: 'TransferWithAuthorization',
    message: { ...authorization, value: BigInt(authorization.value), validAfter: 0n, validBefore: BigInt(authorization.validBefore) },
  });
  const payload = { x402Version: 2, resource: required.resource, accepted, payload: { signature, authorization } };
  return Buffer.from(JSON.stringify(payload)).toString('base64');
}
