#!/usr/bin/env bash
# Runs end-to-end suites (crates/talk-e2e/tests/<suite>.rs) in one browser engine. The test
# binaries are the same for every engine: TALK_E2E_ENGINE picks the browser when they run, so
# after one build each engine only runs them again.
#
#   scripts/test-e2e.sh --engine chromium|firefox|webkit [SUITE...] [-- TEST-ARGS...]
#
# SUITE: a file name of crates/talk-e2e/tests/ without .rs (default: every suite but cluster,
# see below); what follows `--` goes to the test binaries (a test-name filter, --nocapture …).
#
# Needs the tools (scripts/install-tools.sh --browser) and the widget and inbox builds
# (scripts/build-widget.sh, scripts/build-inbox.sh); scripts/test.sh does both first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

engine=chromium suites=() test_args=()
while (($#)); do
  case "$1" in
    --) shift; test_args=("$@"); break ;;
    --engine) engine="${2:?--engine needs chromium, firefox or webkit}"; shift 2 ;;
    --engine=*) engine="${1#--engine=}"; shift ;;
    -*) echo "test-e2e: unknown option $1" >&2; exit 2 ;;
    *) suites+=("$1"); shift ;;
  esac
done
case "$engine" in
  chromium | firefox | webkit) ;;
  *) echo "test-e2e: unknown engine $engine (chromium, firefox or webkit)" >&2; exit 2 ;;
esac
# Every suite but `cluster`: two nodes on PostgreSQL behind nginx, in Chromium, which
# scripts/test.sh runs under scripts/postgres.sh (without PostgreSQL it only says it skips).
if ((${#suites[@]} == 0)); then
  for file in crates/talk-e2e/tests/*.rs; do
    suite="$(basename "$file" .rs)"
    [[ "$suite" == cluster ]] || suites+=("$suite")
  done
fi
targets=()
for suite in "${suites[@]}"; do targets+=(--test "$suite"); done

echo "==> end-to-end tests in $engine: ${suites[*]}"
# The packages of scripts/test.sh's run, so their features resolve the same and cargo reuses
# the binaries it built there instead of building them again.
TALK_E2E_ENGINE="$engine" cargo test --locked --no-fail-fast -p talk-protocol -p talk-server -p talk-bench \
  -p talk-e2e "${targets[@]}" -- "${test_args[@]}"
