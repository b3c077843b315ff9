// `node scripts/strip-names.mjs <file.wasm>`: drops the custom sections the runtime never reads
// (`name`, the function names a profiler shows, and `producers`) from a wasm module in place,
// leaving every other section byte for byte as it was (WebAssembly Core Specification §5.5.3,
// custom sections). The release profile keeps the names (`strip = "debuginfo"`) so that one build
// serves both: scripts/build.sh strips them unless GATEHOUSE_KEEP_NAMES=1 (bench/profile.mjs).
import { readFileSync, writeFileSync } from 'node:fs';

const DROP = new Set(['name', 'producers']);

/** An unsigned LEB128 at `at`: its value and the offset after it. */
function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
  }
}

/** Each section of a module: its id, its name if custom, and its bytes' range with the header. */
function* sections(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [size, body] = leb(bytes, at);
    at = body + size;
    if (at > bytes.length) throw new Error('truncated section');
    let name = null;
    if (id === 0) {
      const [len, nameAt] = leb(bytes, body);
      name = bytes.subarray(nameAt, nameAt + len).toString('utf8');
    }
    yield { id, name, start, end: at };
  }
}

export const customSectionNames = (bytes) => [...sections(bytes)].filter((s) => s.id === 0).map((s) => s.name);

export function stripNames(bytes) {
  const kept = [bytes.subarray(0, 8)];
  for (const { id, name, start, end } of sections(bytes)) {
    if (id !== 0 || !DROP.has(name)) kept.push(bytes.subarray(start, end));
  }
  return Buffer.concat(kept);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: strip-names.mjs <file.wasm>');
  const before = readFileSync(file);
  const after = stripNames(before);
  writeFileSync(file, after);
  console.error(`[strip-names] ${file}: ${before.length} -> ${after.length} bytes`);
}
