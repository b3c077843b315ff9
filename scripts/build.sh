#!/usr/bin/env bash
# Builds the Worker (release wasm + JS shim) into build/.
#   GATEHOUSE_OUT=<dir>           another output directory (relative to the root)
#   GATEHOUSE_FEATURES=<list>     cargo features, e.g. `store-contract` for the e2e suite's build
#                                 (scripts/test.sh puts that one in build-contract/)
#   GATEHOUSE_KEEP_NAMES=1        keep the wasm's function names, for a profiler (bench/profile.mjs)
# The release profile keeps the names section and this strips it afterwards, so that both come
# from the same code: the names are ~60 KB of the gzip size and the runtime never reads them.
# The module entry is src/entry.mjs, beside worker-build's bundle (index.js): see its header. It
# imports src/platform/edge.mjs, which the bundle also holds (wasm-bindgen's copy of it).
# Then binaryen's wasm-opt (the npm package, pinned) runs its -O1 passes: of its levels, the one
# whose output compresses smallest here (-O2, -Os and -Oz shrink the raw file but grow the gzip).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
out="${GATEHOUSE_OUT:-build}"
extra=()
if [ -n "${GATEHOUSE_FEATURES:-}" ]; then extra=(--features "$GATEHOUSE_FEATURES"); fi
worker-build --release --out-dir "$out" . "${extra[@]}" >&2
cp src/entry.mjs "$out/entry.mjs"
cp src/platform/edge.mjs "$out/edge.mjs"
keep=()
if [ "${GATEHOUSE_KEEP_NAMES:-}" = 1 ]; then keep=(-g); fi
wasm-opt -O1 --all-features "${keep[@]}" "$out/index_bg.wasm" -o "$out/index_bg.wasm"
if [ "${GATEHOUSE_KEEP_NAMES:-}" != 1 ]; then
  node scripts/strip-names.mjs "$out/index_bg.wasm"
fi
