#!/usr/bin/env bash
# Builds the widget into dist/ with Trunk (release: size-tuned, wasm-opt -Oz, content-hashed
# names), then the loader beside it, then brotli and gzip copies of every asset.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
# A failed build must not leave an old dist/ behind for tests to pass against.
rm -rf dist
trunk build --release
# The loader, minified, naming what it fetches by hash: the server sends dist/loader/app.js as
# /app.js, and the lazy dist/embed-<hash>.js and dist/frame-<hash>.js under /widget/.
node "$ROOT/scripts/build-loader.mjs" "$ROOT"
node "$ROOT/scripts/compress-assets.mjs" "$ROOT/dist"
