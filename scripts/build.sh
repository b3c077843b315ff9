#!/usr/bin/env bash
# Builds the Worker (release wasm + JS shim) into build/.
#   GATEHOUSE_OUT=<dir>           another output directory (relative to the root)
#   GATEHOUSE_FEATURES=<list>     cargo features, e.g. `store-contract` for the e2e suite's build
#                                 (scripts/test.sh puts that one in build-contract/)
#   GATEHOUSE_KEEP_NAMES=1        keep the wasm's function names, for a profiler (bench/profile.mjs)
# The release profile keeps the names section and this strips it afterwards, so that both come
# from the same code: the names are ~60 KB of the gzip size and the runtime never reads them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
out="${GATEHOUSE_OUT:-build}"
extra=()
if [ -n "${GATEHOUSE_FEATURES:-}" ]; then extra=(--features "$GATEHOUSE_FEATURES"); fi
worker-build --release --out-dir "$out" . "${extra[@]}" >&2
if [ "${GATEHOUSE_KEEP_NAMES:-}" != 1 ]; then
  node scripts/strip-names.mjs "$out/index_bg.wasm"
fi
