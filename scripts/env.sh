# Sourced by the other scripts: where the project's tools live.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export PATH="$ROOT/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# The wasm-bindgen the widget is built with; the CLI must be the very same version.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")"
export WASM_BINDGEN_VERSION
export TRUNK_VERSION=0.21.14
# The dated nightly that builds the widget's release WASM alone (scripts/build-widget.sh): its
# standard library rebuilt with panics that abort at once, without messages, locations or
# Debug output. Everything else, tests included, is built by the stable toolchain.
export WIDGET_NIGHTLY=nightly-2026-10-30
export BINARYEN_VERSION=132
# The gzip copies' compressor (scripts/compress-assets.mjs), from crates.io.
export ZOPFLI_VERSION=0.8.4
export AXE_CORE_VERSION=4.11.4
# The end-to-end tests' Firefox driver (crates.io); Firefox ESR itself is Debian's.
export GECKODRIVER_VERSION=0.37.1
# npm tools of the size report and the benchmarks (scripts/bench-*.sh).
export TERSER_VERSION=5.51.2
export PLAYWRIGHT_CORE_VERSION=1.65.1
