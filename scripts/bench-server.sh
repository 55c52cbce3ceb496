#!/usr/bin/env bash
# Server load benchmark: builds talk-server (profile server) and talk-bench, installs the
# pinned packages of the two socket.io peers (the volatile relay, and the durable peer that
# stores each message in SQLite via better-sqlite3 before acknowledging it), then runs
# talk-bench with its defaults (or the options given, e.g. --idle 19000 --rates 1000,2000):
# the disk's filesystem and fsync p50/p99, idle sockets, RSS per idle connection, durable
# msg/s and delivery latency, CPU per message, against the Talk targets, the durable peer and
# the volatile relay, then the goals judged (met / NOT met); then flood isolation against
# talk-server (--phase load|flood picks one). Loopback only; every phase is capped in count
# and time (about ten minutes for the load phase's five targets on 2 cores).
#
# --runs N (default 3): the load phase's message phases (closed loop, then each open-loop
# rate; 6 s each, --phase-secs) run N times per target on the same idle sockets; every cell
# is the median (min–max). Pinning: the target runs on CPU 0 and talk-bench on the others
# (taskset; both nodes of the two-node target on CPU 0; PostgreSQL's processes unpinned, its
# CPU counted in the target's); --no-pin turns it off. The databases are made in $TMPDIR
# (default /tmp): the run warns when that is tmpfs, where fsync is free.
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

# Installs a peer's pinned packages unless the installed versions already match them.
install_peer() {
  local dir="$1" name wanted have stale=false
  shift
  for name in "$@"; do
    wanted="$(node -p "require('$dir/package.json').dependencies['$name']")"
    have="$(node -p "require('$dir/node_modules/$name/package.json').version" 2>/dev/null || true)"
    [[ "$have" == "$wanted" ]] || stale=true
  done
  if $stale; then
    echo "==> installing the pinned packages of $dir ($*)"
    # better-sqlite3 builds from source (no prebuilt download here) against Node's own
    # headers in /usr/include/node.
    npm_config_nodedir=/usr npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}
relay="$ROOT/bench/socketio-relay"
durable="$ROOT/bench/socketio-durable"
install_peer "$relay" socket.io
install_peer "$durable" socket.io better-sqlite3

# Sockets are file descriptors: as many as the hard limit allows (children inherit it).
ulimit -n "$(ulimit -Hn)"
bench=("$target_dir/server/talk-bench"
  --server-bin "$target_dir/server/talk-server"
  --relay-script "$relay/relay.js"
  --durable-script "$durable/relay.js" "$@")
echo "==> running the load (nproc $(nproc), open files $(ulimit -n))"
if [[ "$database" != sqlite && "$phase" != flood ]]; then
  if "$ROOT/scripts/postgres.sh" --check; then
    exec "$ROOT/scripts/postgres.sh" --durable "${bench[@]}"
  fi
  echo "==> no PostgreSQL installed: the PostgreSQL targets are skipped (scripts/install-tools.sh installs it)"
fi
exec "${bench[@]}"
