#!/usr/bin/env bash
# Every test: formatting and lints, the module graph (scripts/check_cycles.py), the pure crate
# natively, the bundle's validity, and the end-to-end suite against the built Worker in workerd.
# Run through `npm test`, which sets up first; the Worker's build runs here, beside the native steps.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
# Each phase's name and start time, printed as a table when the run ends, passed or not.
phases=()
mark() { phases+=("$(date +%s) $*"); }
[ -n "${GATEHOUSE_T_SETUP:-}" ] && phases+=("$GATEHOUSE_T_SETUP setup (installs)")
step() { mark "$*"; printf '\n\033[1m== %s\033[0m\n' "$*"; }
print_phases() {
  local end i t name next
  end=$(date +%s)
  echo
  echo "== phase times"
  for i in "${!phases[@]}"; do
    t=${phases[$i]%% *}
    name=${phases[$i]#* }
    next=$end
    [ $((i + 1)) -lt ${#phases[@]} ] && next=${phases[$((i + 1))]%% *}
    printf '%6ss  %s\n' "$((next - t))" "$name"
  done
  [ -n "${build_seconds:-}" ] && printf '        (the Worker'"'"'s builds took %ss, beside the native steps)\n' "$build_seconds"
  [ -n "${lane_seconds:-}" ] && printf '        (the second lane ran %ss and the waiting lane %ss beside the main one)\n' "${second_seconds:-0}" "$lane_seconds"
  printf '%6ss  in all\n' "$((end - ${phases[0]%% *}))"
}
# Background jobs each run in a session of their own (setsid where there is one), so that a run
# that ends early, failed or interrupted, stops their whole trees (cargo, pip) rather than leave
# them writing into the next run's directories.
background=()
detach() { if command -v setsid >/dev/null; then exec setsid "$@"; else exec "$@"; fi; }
stop_background() { for pid in "${background[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done; }
# A job waited for is forgotten, so that a pid the system has since reused is never signalled.
forget() {
  local keep=() pid
  for pid in "${background[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  background=("${keep[@]}")
}
trap 'stop_background; print_phases' EXIT
trap 'exit 130' INT TERM
mkdir -p .run

# The Python environments (setup.sh), which only the end-to-end suite needs: quick when they are
# there, and mostly pip's downloads on one core when not (a fresh clone).
detach bash scripts/setup.sh python > .run/python-setup.log 2>&1 &
python_pid=$!
background+=("$python_pid")

# The Worker's builds (scripts/test-builds.sh) run while the native steps use the other core;
# those build in a target directory of their own, so neither waits for the other's lock. Under
# `npm start` and `npm run build` the build runs alone (run.sh).
detach bash scripts/test-builds.sh > .run/build.log 2>&1 &
build_pid=$!
background+=("$build_pid")
native=(env CARGO_TARGET_DIR=target/native)

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (the pure crate and the client kit, natively)"
"${native[@]}" cargo clippy -p gatehouse-core -p gatehouse-kit --all-targets --quiet -- -D warnings

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

# The dev profile, in which the kit shares its dependencies with the core's tests (Cargo.toml);
# the end-to-end tests run this build of the CLI.
step "cargo test (gatehouse-core and the client kit, native)"
"${native[@]}" cargo test -p gatehouse-core -p gatehouse-kit --quiet
"${native[@]}" cargo build -p gatehouse-kit --quiet --bin gatehouse-solve

step "cargo clippy (the Worker shell for wasm32, every feature: they only add code)"
"${native[@]}" cargo clippy -p gatehouse --all-targets --all-features --target wasm32-unknown-unknown --quiet -- -D warnings

step "the Worker's builds, the bundle's validation and the store contract's build (begun beside the native steps; waited for here)"
if ! wait "$build_pid"; then
  tail -40 .run/build.log >&2
  exit 1
fi
forget "$build_pid"
grep -E '^bundle ok|strip-names' .run/build.log
build_seconds=$(sed -n 's/^built in \([0-9]*\)s$/\1/p' .run/build.log)

step "the Python environments (installing since the start, beside the steps above)"
if ! wait "$python_pid"; then
  tail -40 .run/python-setup.log >&2
  exit 1
fi
forget "$python_pid"
echo "ok"

step "end-to-end (workerd via Miniflare, official MCP SDK client and origin)"
# Suites that spend most of their time waiting out a linger, a revocation refresh or a controller
# interval run in a lane of their own beside the rest: they barely use a core meanwhile.
waiting=(tests/hostile_payments.test.mjs tests/hostile_second_review.test.mjs tests/hostile_admission.test.mjs tests/hostile_bounds.test.mjs tests/start.test.mjs)
rest=()
for f in tests/*.test.mjs; do
  [[ " ${waiting[*]} " == *" $f "* ]] || rest+=("$f")
done
# The rest in two lanes, one per core, balanced by the files' sizes (largest first, each to the
# lane with less so far): a suite mostly waits on its gateway, its origin or its clients.
main=()
second=()
main_size=0
second_size=0
while read -r size f; do
  if [ "$main_size" -le "$second_size" ]; then
    main+=("$f")
    main_size=$((main_size + size))
  else
    second+=("$f")
    second_size=$((second_size + size))
  fi
done < <(for f in "${rest[@]}"; do echo "$(wc -c < "$f") $f"; done | sort -rn)
mkdir -p .run
rm -f .run/waiting-lane.end .run/second-lane.end
lane_start=$(date +%s)
# A lane in the background: its log, and when it ended.
background_lane() {
  local name=$1
  shift
  (
    code=0
    node --test --test-concurrency=1 "$@" > ".run/$name.log" 2>&1 || code=$?
    date +%s > ".run/$name.end"
    exit "$code"
  ) &
}
background_lane waiting-lane "${waiting[@]}"
lane=$!
background_lane second-lane "${second[@]}"
second_lane=$!
status=0
node --test --test-concurrency=1 "${main[@]}" 2>&1 | tee .run/main-lane.log || status=$?
wait "$lane" || status=$?
wait "$second_lane" || status=$?
lane_seconds=$(( $(cat .run/waiting-lane.end 2>/dev/null || date +%s) - lane_start ))
second_seconds=$(( $(cat .run/second-lane.end 2>/dev/null || date +%s) - lane_start ))
echo
echo "== the second lane (${second[*]})"
cat .run/second-lane.log
echo
echo "== the waiting lane (${waiting[*]})"
cat .run/waiting-lane.log
# Every lane's counts in one closing line.
count() { awk -v k="# $1" 'index($0, k " ") == 1 { n += $3 } END { print n + 0 }' .run/main-lane.log .run/second-lane.log .run/waiting-lane.log; }
trap - EXIT
print_phases
echo "e2e: $(count pass) passed, $(count fail) failed, $(count cancelled) cancelled"
exit "$status"
