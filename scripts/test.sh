#!/usr/bin/env bash
# Installs whatever is missing, builds the widget and the inbox, and runs every test:
# protocol and server (HTTP in-process, WebSocket over real sockets, TURN credentials against
# a real coturn), the widget's and the inbox's components in headless Chromium, and
# end-to-end tests (real server + real browsers):
# every suite in Chromium, the suites of $E2E_EVERY_ENGINE in Firefox and WebKit too.
#
#   scripts/test.sh                    everything, as CI runs it
#   scripts/test.sh --engine firefox   install, build, then every end-to-end suite in one engine
#                                      (chromium, firefox or webkit) and nothing else
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

engine=
while (($#)); do
  case "$1" in
    --engine) engine="${2:?--engine needs chromium, firefox or webkit}"; shift 2 ;;
    --engine=*) engine="${1#--engine=}"; shift ;;
    *) echo "test: unknown option $1" >&2; exit 2 ;;
  esac
done
# The end-to-end suites that also run in Firefox and WebKit (the rest run in Chromium only, to
# keep CI's time on 2 cores in bounds; scripts/test-e2e.sh --engine runs any of them anywhere).
E2E_EVERY_ENGINE=(conversation page_api csp facade hostile)
# A clean build takes several GB; say how much room there is, so a full disk is no mystery.
echo "==> free disk: $(df -Ph "$ROOT" | awk 'NR == 2 { print $4 }')"

"$ROOT/scripts/install-tools.sh" --browser

echo "==> building the widget"
"$ROOT/scripts/build-widget.sh"
echo "==> building the inbox"
"$ROOT/scripts/build-inbox.sh"
# The size budgets (DESIGN.md): the loader and the widget, in bytes on the wire. Over budget
# fails the run.
"$ROOT/scripts/size-report.sh"

if [[ -n "$engine" ]]; then
  "$ROOT/scripts/test-e2e.sh" --engine "$engine"
  exit
fi

# Mostly waiting (two minutes of `trunk serve` that must not rebuild), so it runs beside the
# tests below; it reuses the widget build above. Its result is printed at the end.
echo "==> trunk serve beside a running talk-server (in the background)"
trunk_watch_log="$(mktemp)"
"$ROOT/scripts/check-trunk-watch.sh" >"$trunk_watch_log" 2>&1 &
trunk_watch=$!
trap 'kill "$trunk_watch" 2>/dev/null || true; rm -f "$trunk_watch_log"' EXIT

echo "==> protocol, server, benchmark and end-to-end tests (beside a throwaway coturn, scripts/coturn.sh)"
# The TURN server proves the credentials the server mints for calls (tests/ice.rs).
if "$ROOT/scripts/coturn.sh" --check; then
  "$ROOT/scripts/coturn.sh" cargo test --locked -p talk-protocol -p talk-server -p talk-bench -p talk-e2e
else
  echo "==> SKIPPED: the real TURN allocation (no coturn); the rest runs without it"
  cargo test --locked -p talk-protocol -p talk-server -p talk-bench -p talk-e2e
fi
# The same test binaries again, in the other engines.
for other in firefox webkit; do
  "$ROOT/scripts/test-e2e.sh" --engine "$other" "${E2E_EVERY_ENGINE[@]}"
done
echo "==> the server's tests again, and two nodes end to end, on PostgreSQL (a throwaway cluster, scripts/postgres.sh)"
# Every test that opens a database (in-process tests, the store's contract in tests/store.rs,
# the chaos test's binary) gets a fresh one on the cluster. Then talk-e2e's tests/cluster.rs:
# two processes of the debug talk-server on the cluster, nginx in front, Chromium on the
# widget and the inbox. It restarts the cluster, so it runs after the server's tests, not
# beside them. Named with the packages of the first run, so their features resolve the same
# and cargo reuses what it built there; `-p talk-server --test cluster` also has cargo build
# talk-server's binary in this very command (the server's own tests/cluster.rs, a few
# seconds, runs again with it), so the nodes run the current code.
if "$ROOT/scripts/postgres.sh" --check; then
  "$ROOT/scripts/postgres.sh" bash -c 'cargo test --locked -p talk-server &&
    cargo test --locked -p talk-protocol -p talk-server -p talk-bench -p talk-e2e --test cluster'
else
  echo "==> SKIPPED: the server's tests and the two-node end-to-end tests on PostgreSQL (no PostgreSQL 15; the server's tests ran on SQLite only)"
fi
echo "==> generated requests (schemathesis) against a real server's /v1/openapi.json"
# The debug talk-server the tests above built: cargo build finds it up to date.
"$ROOT/scripts/check-api-fuzz.sh"
echo "==> inbox logic (list order, unread counts, form checks)"
cargo test --locked -p talk-inbox --lib
echo "==> widget engine rules and shared browser code on the host (reducer, outbox, backoff)"
# Host tests: a plain #[test] in these crates is skipped on wasm32, so they run natively here.
cargo test --locked -p talk-widget -p talk-browser --lib

echo "==> widget tests in headless Chromium"
# The runner's defaults (20 s for the run, 5 s to start chromedriver) are too tight for a
# debug-build module on a busy 2-core machine: give it room, the tests themselves are fast.
WASM_BINDGEN_TEST_TIMEOUT=180 WASM_BINDGEN_TEST_DRIVER_TIMEOUT=30 \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked -p talk-widget --target wasm32-unknown-unknown

echo "==> inbox tests in headless Chromium"
WASM_BINDGEN_TEST_TIMEOUT=180 WASM_BINDGEN_TEST_DRIVER_TIMEOUT=30 \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked -p talk-inbox --target wasm32-unknown-unknown --test web

echo "==> trunk serve beside a running talk-server: one build"
if ! wait "$trunk_watch"; then
  cat "$trunk_watch_log"
  exit 1
fi
cat "$trunk_watch_log"
