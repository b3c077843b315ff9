#!/usr/bin/env bash
# Every test: formatting and lints, the module graph (scripts/check_cycles.py), the pure crate
# natively, the bundle's validity, and the end-to-end suite against the built Worker in workerd.
# Run through `npm test`, which sets up and builds first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (pure crate natively, Worker shell for wasm32)"
cargo clippy -p gatehouse-core --all-targets --quiet -- -D warnings
cargo clippy -p gatehouse-kit --all-targets --quiet -- -D warnings
cargo clippy -p gatehouse --all-targets --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy -p gatehouse --all-targets --all-features --target wasm32-unknown-unknown --quiet -- -D warnings

step "the pure crate depends on no platform crate"
if cargo tree -p gatehouse-core -e normal,build --prefix none | grep -E '^(worker|js-sys|wasm-bindgen|web-sys)( |$)'; then
  echo "gatehouse-core must not depend on the crates above" >&2
  exit 1
fi

step "no import cycle between a crate's modules; no core module reads config"
python3 scripts/check_cycles.py

step "no Rust source file over 400 lines"
long=$(find src crates -name '*.rs' -not -path '*/target/*' -exec awk 'END { if (NR > 400) print NR, FILENAME }' {} \;)
if [ -n "$long" ]; then
  echo "$long" >&2
  echo "split these files: the project keeps each under 400 lines" >&2
  exit 1
fi
echo "ok"

step "cargo test (gatehouse-core and the client kit, native)"
cargo test -p gatehouse-core --quiet
cargo test -p gatehouse-kit --release --quiet
cargo build -p gatehouse-kit --release --quiet --bin gatehouse-solve

step "wrangler deploy --dry-run (the bundle validates)"
wrangler deploy --dry-run --outdir dist >/dev/null
echo "bundle ok"

step "the store contract's build (the release one has no contract route)"
GATEHOUSE_OUT=build-contract GATEHOUSE_FEATURES=store-contract bash scripts/build.sh

step "end-to-end (workerd via Miniflare, official MCP SDK client and origin)"
# Suites that spend most of their time waiting out a linger, a revocation refresh or a controller
# interval run in a lane of their own beside the rest: they barely use a core meanwhile.
waiting=(tests/hostile_payments.test.mjs tests/hostile_second_review.test.mjs tests/hostile_admission.test.mjs)
rest=()
for f in tests/*.test.mjs; do
  [[ " ${waiting[*]} " == *" $f "* ]] || rest+=("$f")
done
mkdir -p .run
node --test --test-concurrency=1 "${waiting[@]}" > .run/waiting-lane.log 2>&1 &
lane=$!
status=0
node --test --test-concurrency=1 "${rest[@]}" || status=$?
wait "$lane" || status=$?
echo
echo "== the waiting lane (${waiting[*]})"
cat .run/waiting-lane.log
exit "$status"
