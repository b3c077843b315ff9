#!/usr/bin/env bash
# Entry point of the npm scripts: set up, build, then run the named task.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
# Phase start times (Unix seconds), for the phase table `npm test` prints at its end.
export GATEHOUSE_T_SETUP=$(date +%s)
# `npm test` waits for the Python environments only before its end-to-end suite (setup.sh).
if [ "${1:-}" = test ]; then export GATEHOUSE_PYTHON_LATER=1; fi
bash scripts/setup.sh
export GATEHOUSE_T_BUILD=$(date +%s)
case "${1:-}" in
  build) bash scripts/build.sh ;;
  start)
    # The build's chatter goes to a log of its own (start.mjs starts .run/start.log afresh).
    mkdir -p .run
    echo "  building the Worker (details in .run/build.log)"
    bash scripts/build.sh > .run/build.log 2>&1 || { tail -40 .run/build.log; exit 1; }
    exec node scripts/start.mjs ;;
  # test.sh builds the Worker itself, beside its native steps.
  test) exec bash scripts/test.sh ;;
  bench)
    # A profile maps the wasm's functions by name: keep the name section for it.
    if [[ " ${*:2} " == *" --profile "* ]]; then export GATEHOUSE_KEEP_NAMES=1; fi
    bash scripts/build.sh && exec node bench/run.mjs "${@:2}" ;;
  study) bash scripts/build.sh && exec node bench/study.mjs ;;
  *) echo "usage: run.sh build|start|test|bench|study" >&2; exit 2 ;;
esac
