// The names on the wire that the gateway and its clients share, read from `wire.json`: the one
// list, which the gateway's core and the Rust and Python kits are tested against (its shape:
// docs/PROTOCOL.md §7). Frozen, since `index.mjs` hands it to callers and one of them changing a
// name would change it for every request.
import names from './wire.json' with { type: 'json' };

const freeze = (value) => {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) freeze(v);
    Object.freeze(value);
  }
  return value;
};

export const wire = freeze(names);

/** `code` if the file lists it as an error code; throws at load time for a stale or misspelt one. */
export function errorCode(code) {
  if (!Object.hasOwn(wire.errors, code)) throw new Error(`wire.json lists no error code ${code}`);
  return code;
}
