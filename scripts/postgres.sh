#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster: initdb in a temp dir, listening on a
# Unix socket in that dir only (no TCP), stopped and deleted when the command ends, however
# it ends. The command sees TALK_TEST_DATABASE_URL (the server's `postgres` database as user
# `talk`, no password); the server's tests then give each test a database of its own. It also
# sees TALK_TEST_PG_DATA, TALK_TEST_PG_BIN, TALK_TEST_PG_LOG and TALK_TEST_PG_USER (below),
# for tests that restart the cluster.
#
#   scripts/postgres.sh cargo test -p talk-server     # the server's tests on PostgreSQL
#   scripts/postgres.sh cargo test -p talk-e2e --test cluster   # two nodes, nginx, browsers
#   scripts/postgres.sh --durable talk-bench …        # a benchmark: PostgreSQL's durable defaults
#   scripts/postgres.sh --check                       # exit 0 if PostgreSQL is installed
#
# By default the cluster runs with fsync, synchronous_commit and full_page_writes off: its
# data dies with it, and tests run faster. `--durable` keeps PostgreSQL's defaults (all three
# on: a commit is on disk before it is acknowledged), which a benchmark against SQLite's
# `synchronous = FULL` needs to be fair. The cluster lives in a temp folder under $TMPDIR
# (default /tmp), on the same filesystem as the SQLite files the tests and benchmarks make
# there.
#
# PostgreSQL is Debian's postgresql-15 (scripts/install-tools.sh installs it). As root the
# server runs as the `postgres` user, which initdb requires.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

if [[ ! -x "$PG_BIN/initdb" || ! -x "$PG_BIN/pg_ctl" ]]; then
  echo "postgres.sh: no PostgreSQL 15 in $PG_BIN (apt-get install postgresql-15)" >&2
  exit 3
fi
if [[ "${1:-}" == "--check" ]]; then exit 0; fi
durable=false
if [[ "${1:-}" == "--durable" ]]; then durable=true; shift; fi
if [[ $# -eq 0 ]]; then
  echo "usage: scripts/postgres.sh [--durable] COMMAND [ARGS…]   |   scripts/postgres.sh --check" >&2
  exit 2
fi

as_pg=()
if [[ "$(id -u)" -eq 0 ]]; then as_pg=(runuser -u postgres --); fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/talk-pg.XXXXXX")"
chmod 755 "$dir"
[[ ${#as_pg[@]} -gt 0 ]] && chown postgres: "$dir"

stop() {
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -U talk --auth=trust -E UTF8 --locale=C \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# Room for every test's pools. A throwaway cluster for tests: no fsync (its data dies with
# it); --durable: PostgreSQL's defaults.
settings="-c listen_addresses='' -k $dir -c max_connections=300"
if $durable; then
  settings+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
else
  settings+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$settings" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export TALK_TEST_DATABASE_URL="postgres://talk@localhost/postgres?host=$dir"
# Where the cluster is, for tests that restart it (talk-e2e's tests/cluster.rs runs `pg_ctl
# -D "$TALK_TEST_PG_DATA" -l "$TALK_TEST_PG_LOG" restart`): as root, pg_ctl must run as
# $TALK_TEST_PG_USER (`runuser -u "$TALK_TEST_PG_USER" --`); empty otherwise. A restart keeps
# the options above (pg_ctl reads them back from the data dir's postmaster.opts).
export TALK_TEST_PG_DATA="$dir/data" TALK_TEST_PG_BIN="$PG_BIN" TALK_TEST_PG_LOG="$dir/server.log"
export TALK_TEST_PG_USER=
[[ ${#as_pg[@]} -gt 0 ]] && TALK_TEST_PG_USER=postgres
mode="fsync off (throwaway)"
$durable && mode="durable: fsync, synchronous_commit, full_page_writes on"
echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on $dir (Unix socket only; $mode)"
echo "    data on: $(df --output=source,fstype,target "$dir" | tail -1 | tr -s ' ')"
"$@"
