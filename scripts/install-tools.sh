#!/usr/bin/env bash
# Installs what building (and, with --browser, testing) needs, skipping whatever is already
# there at the right version, so a rerun takes seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

want_browser=false
[[ "${1:-}" == "--browser" ]] && want_browser=true

step() { printf '==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
  # Not --locked: the locked build wants a webpki-roots the index lacks (TOOLCHAIN.md).
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [[ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]]; then
  step "installing trunk $TRUNK_VERSION"
  cargo install --force --locked trunk --version "$TRUNK_VERSION"
fi

# npm's binaryen, never Debian's (108 silently breaks the output).
if ! wasm-opt --version 2>/dev/null | grep -q "version_$BINARYEN_VERSION"; then
  step "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into .tools/"
  npm install --prefix "$ROOT/.tools" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
fi

# The accessibility checker the end-to-end tests inject into pages.
axe_version() { node -p "require('$ROOT/.tools/node_modules/axe-core/package.json').version" 2>/dev/null; }
if $want_browser && [[ "$(axe_version)" != "$AXE_CORE_VERSION" ]]; then
  step "installing axe-core $AXE_CORE_VERSION into .tools/"
  npm install --prefix "$ROOT/.tools" --no-audit --no-fund --loglevel=error "axe-core@$AXE_CORE_VERSION"
fi

if $want_browser && ! { command -v chromium && command -v chromedriver; } >/dev/null; then
  step "installing Debian's chromium and chromium-driver"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends chromium chromium-driver
fi

# Trunk runs cargo offline (it must never download anything), so fetch crates first.
cargo fetch --locked --quiet
