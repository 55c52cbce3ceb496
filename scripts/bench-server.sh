#!/usr/bin/env bash
# Server load benchmark: builds talk-server (profile server) and talk-bench, installs the
# socket.io relay's pinned packages, then runs talk-bench with its defaults (or the options
# given, e.g. --idle 19000 --rates 1000,2000): idle sockets, RSS per idle connection,
# durable msg/s and delivery latency, against talk-server and the socket.io relay; then flood
# isolation against talk-server (--phase load|flood picks one). Loopback
# only; every phase is capped in count and time (a few minutes in all on 2 cores).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

echo "==> building talk-server and talk-bench (profile server)"
cargo build --locked --profile server -p talk-server -p talk-bench
target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"

relay="$ROOT/bench/socketio-relay"
pinned="$(node -p "require('$relay/package.json').dependencies['socket.io']")"
if [[ "$(node -p "require('$relay/node_modules/socket.io/package.json').version" 2>/dev/null)" != "$pinned" ]]; then
  echo "==> installing socket.io $pinned for the relay"
  npm ci --prefix "$relay" --no-audit --no-fund --loglevel=error
fi

# Sockets are file descriptors: as many as the hard limit allows (children inherit it).
ulimit -n "$(ulimit -Hn)"
echo "==> running the load (nproc $(nproc), open files $(ulimit -n))"
exec "$target_dir/server/talk-bench" \
  --server-bin "$target_dir/server/talk-server" \
  --relay-script "$relay/relay.js" "$@"
