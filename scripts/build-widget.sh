#!/usr/bin/env bash
# Builds the widget into dist/ with Trunk (release: size-tuned, wasm-opt -Oz, content-hashed
# names), then the loader beside it, then brotli and gzip copies of every asset.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
# A failed build must not leave an old dist/ behind for tests to pass against.
rm -rf dist
# The release WASM comes from the pinned nightly (env.sh) with the standard library rebuilt for
# size: panics abort without formatting a message, and neither panic locations nor Debug output
# are compiled in, and core picks its smaller algorithms (sorting, formatting): about 23 KB of
# gzip (docs/benchmarks.md). Only for the wasm32 target: build scripts and proc macros are host
# code and keep their defaults.
RUSTUP_TOOLCHAIN="$WIDGET_NIGHTLY" \
CARGO_UNSTABLE_BUILD_STD=std,panic_abort CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none" \
  trunk build --release
# The imports' and exports' names that join the glue to the WASM, one or two letters long.
node "$ROOT/scripts/minify-wasm-names.mjs" "$ROOT" "$ROOT/dist"
# The loader, minified, naming what it fetches by hash: the server sends dist/loader/app.js as
# /app.js, and the lazy dist/embed-<hash>.js and dist/frame-<hash>.js under /widget/.
node "$ROOT/scripts/build-loader.mjs" "$ROOT"
node "$ROOT/scripts/compress-assets.mjs" "$ROOT/dist"
