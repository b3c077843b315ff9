// The amount a BOLT 11 invoice asks for, read from the invoice itself (BOLT #11, "Encoding
// Overview" and "Human-Readable Part"), never from what a server says beside it: the amount a
// wallet pays is the one in the signed invoice. The same rules as the Rust kit's `bolt11.rs`,
// checked against the same vectors (docs/bolt11-vectors.json).
//
// The invoice is bech32 (BIP-0173, without its length limit); its human-readable part is `ln` +
// a currency (`bc`, `tb`, `tbs`, `bcrt`) + an optional amount in bitcoin: a positive decimal
// integer and an optional multiplier, `m` 10^-3, `u` 10^-6, `n` 10^-9 or `p` 10^-12 (whose amount
// must end in 0, so the result is whole millisatoshis).

const MAX_INVOICE_CHARS = 8192;
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const CURRENCIES = new Set(['bc', 'tb', 'tbs', 'bcrt']);
const MSAT_PER_BTC = 100_000_000_000n;
const MULTIPLIERS = { m: MSAT_PER_BTC / 1_000n, u: MSAT_PER_BTC / 1_000_000n, n: MSAT_PER_BTC / 1_000_000_000n };
const MAX_MSAT = 2n ** 64n - 1n;

function polymod(values) {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]) >>> 0;
  }
  return chk;
}

/** The lowercased human-readable part of a well-formed bech32 string, or null. */
function bech32Hrp(s) {
  if (typeof s !== 'string' || s.length > MAX_INVOICE_CHARS) return null;
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) return null;
  const lower = s.toLowerCase();
  const sep = lower.lastIndexOf('1');
  if (sep < 1 || lower.length - sep - 1 < 6) return null;
  const hrp = lower.slice(0, sep);
  for (const c of hrp) if (c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126) return null;
  const values = [];
  for (const c of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return null;
    values.push(v);
  }
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  const expanded = [...codes.map((c) => c >> 5), 0, ...codes.map((c) => c & 31)];
  return polymod([...expanded, ...values]) === 1 ? hrp : null;
}

/**
 * The invoice's amount: `{ msat: bigint }`, or `{ problem }` with one of `malformed`,
 * `unknown_prefix`, `no_amount`, `bad_amount`. An invoice with a problem is never paid.
 */
export function invoiceAmount(invoice) {
  const hrp = bech32Hrp(invoice);
  if (hrp === null) return { problem: 'malformed' };
  if (!hrp.startsWith('ln')) return { problem: 'unknown_prefix' };
  const [, currency, amount] = hrp.slice(2).match(/^([a-z]*)(.*)$/);
  if (!CURRENCIES.has(currency)) return { problem: 'unknown_prefix' };
  if (amount === '') return { problem: 'no_amount' };
  const m = amount.match(/^([1-9][0-9]*)([munp]?)$/);
  if (!m) return { problem: 'bad_amount' };
  const n = BigInt(m[1]);
  if (n > MAX_MSAT) return { problem: 'bad_amount' }; // as the Rust kit, which reads it into 64 bits
  let msat;
  if (m[2] === 'p') {
    // One pico-bitcoin is a tenth of a millisatoshi.
    if (n % 10n !== 0n) return { problem: 'bad_amount' };
    msat = n / 10n;
  } else {
    msat = n * (m[2] ? MULTIPLIERS[m[2]] : MSAT_PER_BTC);
  }
  return msat > MAX_MSAT ? { problem: 'bad_amount' } : { msat };
}
