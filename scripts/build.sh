#!/usr/bin/env bash
# Builds the Worker (release wasm + JS shim) into build/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
worker-build --release >&2
