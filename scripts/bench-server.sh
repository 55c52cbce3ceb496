#!/usr/bin/env bash
# Server load benchmark: builds talk-server (profile server) and talk-bench, installs the
# socket.io relay's pinned packages, then runs talk-bench with its defaults (or the options
# given, e.g. --idle 19000 --rates 1000,2000): idle sockets, RSS per idle connection,
# durable msg/s and delivery latency, against talk-server and the socket.io relay; then flood
# isolation against talk-server (--phase load|flood picks one). Loopback
# only; every phase is capped in count and time (a few minutes in all on 2 cores).
#
# --database sqlite|postgres|all (default all) picks the load phase's Talk targets: Talk on
# SQLite, Talk on PostgreSQL (one node), Talk on PostgreSQL with two nodes sharing the
# database (each pair's visitor on one node, its agent on the other); the relay always runs.
# `--database postgres` runs the two PostgreSQL targets and the relay. PostgreSQL runs under
# `scripts/postgres.sh --durable` (fsync, synchronous_commit and full_page_writes on, data in
# /tmp like the SQLite file); when it is not installed, the PostgreSQL targets are skipped
# and the run says why. The flood phase runs on SQLite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

# The options this script acts on; talk-bench gets them all, and checks them.
database=all
phase=all
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --database) database="${args[i + 1]:-}" ;;
    --database=*) database="${args[i]#--database=}" ;;
    --phase) phase="${args[i + 1]:-}" ;;
    --phase=*) phase="${args[i]#--phase=}" ;;
  esac
done

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
bench=("$target_dir/server/talk-bench"
  --server-bin "$target_dir/server/talk-server"
  --relay-script "$relay/relay.js" "$@")
echo "==> running the load (nproc $(nproc), open files $(ulimit -n))"
if [[ "$database" != sqlite && "$phase" != flood ]]; then
  if "$ROOT/scripts/postgres.sh" --check; then
    exec "$ROOT/scripts/postgres.sh" --durable "${bench[@]}"
  fi
  echo "==> no PostgreSQL installed: the PostgreSQL targets are skipped (scripts/install-tools.sh installs it)"
fi
exec "${bench[@]}"
