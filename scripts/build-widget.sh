#!/usr/bin/env bash
# Builds the widget into dist/ with Trunk (release: size-tuned, wasm-opt -Oz).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
# A failed build must not leave an old dist/ behind for tests to pass against.
rm -rf dist
trunk build --release
# The loader, minified: what the server sends as /app.js, /widget/embed.js and /widget/frame.js.
node "$ROOT/scripts/minify-loader.mjs" "$ROOT"
