#!/usr/bin/env bash
# The Worker's builds for `npm test` (scripts/test.sh runs this beside its native steps): the
# release build (whole-program LTO, mostly on one core), then `wrangler deploy --dry-run` (which
# runs wrangler.toml's build command, a no-op for cargo, and validates the bundle), then the store
# contract's build, the test build (the release one with the contract route and the panics on
# request, for tests/store_contract.test.mjs and tests/wasm_instance.test.mjs). One chain,
# because they share the default target directory and build/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
bash scripts/build.sh
echo "== wrangler deploy --dry-run"
wrangler deploy --dry-run --outdir dist >/dev/null
echo "bundle ok"
echo "== the store contract's build"
GATEHOUSE_OUT=build-contract GATEHOUSE_FEATURES=store-contract bash scripts/build.sh
echo "built in ${SECONDS}s"
