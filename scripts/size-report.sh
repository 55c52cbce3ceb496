#!/usr/bin/env bash
# Size report: raw, minified, gzip and brotli bytes of the loader, the widget (WASM, JS glue,
# CSS) and the inbox bundle, against the budgets in DESIGN.md. Exits 1 when over budget;
# --report-only prints the same table and exits 0. Run after ./scripts/build-widget.sh (and
# ./scripts/build-inbox.sh for the inbox rows); ./scripts/bench-size.sh builds the widget.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec node "$ROOT/bench/size/size-report.mjs" "$ROOT" "$@"
