#!/usr/bin/env bash
# Builds the inbox into crates/talk-inbox/dist/ with Trunk (release, wasm-opt -Oz, content-hashed
# names), with brotli and gzip copies of every asset. The server serves it at /inbox/ (its
# inbox_dir).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT/crates/talk-inbox"
# A failed build must not leave an old dist/ behind for tests to pass against.
rm -rf dist
trunk build --release
node "$ROOT/scripts/compress-assets.mjs" "$ROOT/crates/talk-inbox/dist"
