#!/usr/bin/env bash
# Prints what a visitor downloads: raw and gzip -9 bytes of the loader and the built widget.
# Run after `trunk build --release` (scripts/test.sh and scripts/demo.sh do).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

row() { printf '%-28s %10s %10s\n' "$1" "$2" "$3"; }
gz() { gzip -9 -c "$1" | wc -c; }

files=(loader/app.js dist/talk-widget_bg.wasm dist/talk-widget.js)
for file in "${files[@]}"; do
  [[ -f "$file" ]] || { echo "size-report: $file is missing; build the widget first" >&2; exit 1; }
done

row "file" "raw B" "gzip B"
total_raw=0 total_gz=0
for file in "${files[@]}"; do
  raw=$(wc -c <"$file") packed=$(gz "$file")
  row "$file" "$raw" "$packed"
  if [[ "$file" == dist/* ]]; then
    total_raw=$((total_raw + raw)) total_gz=$((total_gz + packed))
  fi
done
row "widget (wasm + js glue)" "$total_raw" "$total_gz"
echo "(widget CSS is compiled into the wasm; baseline: Leptos CSR counter = 31,109 B gzip)"
