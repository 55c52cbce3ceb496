#!/usr/bin/env bash
# Start-up benchmark: serves the built widget from a real talk-server on loopback and loads a
# host page in headless Chromium --runs times (default 10), on loopback and under a phone
# profile (150 ms, 1.6 Mbps, CPU x4), printing median and p90 of the start-up times, the
# blocking time the widget adds and the bytes the Talk server sends, against the budgets
# (reported, never enforced). Builds what is missing first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

"$ROOT/scripts/install-tools.sh" --bench
[[ -f dist/loader/manifest.json ]] || "$ROOT/scripts/build-widget.sh"
echo "==> building talk-server (profile server)"
# The same package set as bench-server.sh: another set unifies features differently and
# rebuilds the server.
cargo build --locked --profile server -p talk-server -p talk-bench
server_bin="${CARGO_TARGET_DIR:-$ROOT/target}/server/talk-server"

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export TALK_LISTEN="127.0.0.1:$port" TALK_PUBLIC_URL="http://127.0.0.1:$port" \
  TALK_DATABASE_URL="sqlite://$data/talk.db" TALK_WIDGET_DIR="$ROOT/dist" \
  TALK_BROWSER_REQUESTS_PER_MINUTE=0 RUST_LOG=warn
capture_key="$("$server_bin" workspace create --name startup-bench --json |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).capture_key))')"
"$server_bin" serve >"$data/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -fsS "$TALK_PUBLIC_URL/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "==> loading the widget in headless Chromium"
node "$ROOT/bench/startup/startup.mjs" --api "$TALK_PUBLIC_URL" --capture-key "$capture_key" \
  --tools "$ROOT/.tools" "$@"
