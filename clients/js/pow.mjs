// The Gatehouse proof-of-work rule: find a decimal nonce such that sha256(salt + nonce) has at
// least `difficulty` leading zero bits. Vectors: docs/pow-vectors.json.
import { createHash } from 'node:crypto';
import { wire } from './wire.mjs';

/** The `algorithm` a proof-of-work offer names; the one this solver answers. */
export const POW_ALGORITHM = wire.pow_algorithm;

export function leadingZeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) { bits += 8; continue; }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

export function digest(salt, nonce) {
  return createHash('sha256').update(salt + nonce).digest();
}

/**
 * Finds the smallest nonce from `start` up that meets the difficulty. Yields to the event loop
 * every `sliceSize` hashes so that other requests keep flowing while it works; gives up (throws)
 * past `deadline` (a Date.now() value).
 */
/** A gateway never asks more (POW_MAX_BITS is at most 32): anything harder is not answered. */
export const MAX_DIFFICULTY = 32;

export async function solvePow(salt, difficulty, { start = 0, deadline = Infinity, sliceSize = 20_000 } = {}) {
  for (let nonce = start; ; ) {
    const end = nonce + sliceSize;
    for (; nonce < end; nonce++) {
      if (leadingZeroBits(digest(salt, String(nonce))) >= difficulty) return String(nonce);
    }
    if (Date.now() > deadline) throw new Error(`proof of work at ${difficulty} bits not solved in time`);
    await new Promise((r) => setImmediate(r));
  }
}
