#!/usr/bin/env bash
# Runs a command beside a throwaway TURN/STUN server: Debian's coturn (turnserver 4.6.1) on
# loopback only, UDP and TCP on one port, with a secret made up for this run, stopped and its
# temp dir deleted when the command ends, however it ends. The command sees
#
#   TALK_TEST_TURN_URLS    turn:127.0.0.1:PORT?transport=udp,turn:127.0.0.1:PORT?transport=tcp
#   TALK_TEST_STUN_URLS    stun:127.0.0.1:PORT
#   TALK_TEST_TURN_SECRET  the shared secret (32 hex digits) of coturn's TURN REST API
#                          (use-auth-secret): a credential is username "<unix expiry>:<any id>",
#                          password base64(HMAC-SHA1(secret, username))
#   TALK_TEST_TURN_PORT, TALK_TEST_TURN_REALM (talk.test), TALK_TEST_TURN_LOG (its log file)
#
#   scripts/coturn.sh cargo test -p talk-e2e            # voice calls relayed between browsers
#   scripts/coturn.sh scripts/postgres.sh cargo test …  # the two wrappers nest
#   scripts/coturn.sh --check                           # exit 0 if coturn is installed
#
# Both browsers of a voice test are on loopback, so the server relays to loopback peers
# (allow-loopback-peers, which coturn warns against in production). No TLS/DTLS listeners, no
# telnet CLI; its relay ports are the 99 just above its listening port, in a block of 100
# between 20000 and 29999 (below Linux's ephemeral ports) that no socket uses. coturn binds
# its listeners with SO_REUSEPORT and, on a busy port, retries forever: two servers can share
# a port unnoticed, so ports are chosen under a lock and the server is only used once every
# socket on its port is its own. It runs as the current user, in the foreground (not a
# daemon), its user database an empty SQLite file in the temp dir (the system's
# /var/lib/turn/turndb is the package user's). Its output goes to its log, which is printed
# when it fails to start. It starts in about 0.1 s.
#
# coturn is Debian's package (scripts/install-tools.sh --browser installs it, its system
# service not started).
set -euo pipefail

TURNSERVER="${TURNSERVER:-/usr/bin/turnserver}"
STUNCLIENT="$(dirname "$TURNSERVER")/turnutils_stunclient"

if [[ ! -x "$TURNSERVER" || ! -x "$STUNCLIENT" ]]; then
  echo "coturn.sh: no coturn ($TURNSERVER) (apt-get install coturn)" >&2
  exit 3
fi
if [[ "${1:-}" == "--check" ]]; then exit 0; fi
if [[ $# -eq 0 ]]; then
  echo "usage: scripts/coturn.sh COMMAND [ARGS…]   |   scripts/coturn.sh --check" >&2
  exit 2
fi
if ! command -v ss >/dev/null; then
  echo "coturn.sh: needs ss (Debian's iproute2)" >&2
  exit 3
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/talk-turn.XXXXXX")"
pid=

# Stops the server (TERM, then KILL after 5 s) and deletes the temp dir; keeps the exit code.
stop_server() {
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}
stop() {
  local code=$?
  stop_server
  rm -rf "$dir"
  exit "$code"
}
trap stop EXIT
trap 'exit 130' INT TERM

secret="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
realm=talk.test
log="$dir/turnserver.log"

# True if no TCP or UDP socket, in any state, has a local port in [$1, $2].
ports_unused() {
  ss -Hantu | awk -v lo="$1" -v hi="$2" '
    { n = split($5, a, ":"); if (a[n] >= lo && a[n] <= hi) busy = 1 }
    END { exit busy }'
}
# 0 once the server has its UDP and TCP listeners on port $1 and nothing else is on it; 1 not
# yet; 2 if another socket is on that port (another user's shows without a pid).
listen_state() {
  local udp tcp
  udp="$(ss -Hlnup "sport = :$1")" tcp="$(ss -Hlntp "sport = :$1")"
  if printf '%s\n%s\n' "$udp" "$tcp" | grep . | grep -qv "pid=$pid,"; then return 2; fi
  [[ -n "$udp" && -n "$tcp" ]]
}
# Ports are chosen and the server started under a lock (held for about 0.1 s), so concurrent
# runs of this script never pick the same block. The lock is opened read-only: any user can
# lock a file another made.
lockfile="${TMPDIR:-/tmp}/talk-coturn.lock"
[[ -e "$lockfile" ]] || : >>"$lockfile"
exec {lock}<"$lockfile"
flock -w 60 "$lock" || { echo "coturn.sh: $lockfile stayed locked for 60 s" >&2; exit 1; }

port=
for _ in 1 2 3 4 5 6 7 8; do
  base=$((20000 + 100 * (RANDOM % 100)))
  ports_unused "$base" $((base + 99)) || continue
  cat >"$dir/turnserver.conf" <<EOF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$base
min-port=$((base + 1))
max-port=$((base + 99))
use-auth-secret
static-auth-secret=$secret
realm=$realm
no-tls
no-dtls
no-cli
allow-loopback-peers
no-multicast-peers
userdb=$dir/turndb
pidfile=$dir/turnserver.pid
log-file=$log
simple-log
no-stdout-log
verbose
EOF
  rm -f "$log"
  "$TURNSERVER" -c "$dir/turnserver.conf" >"$dir/stdout.log" 2>&1 {lock}<&- &
  pid=$!
  state=1 deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
    listen_state "$base" && state=0 || state=$?
    ((state == 1)) || break
    sleep 0.02
  done
  # It answers STUN: its listener threads are running.
  if ((state == 0)) && timeout 5 "$STUNCLIENT" -p "$base" 127.0.0.1 >/dev/null 2>&1; then
    port=$base
    break
  fi
  # Still running but not alone on its port (another socket there, or coturn retrying a bind
  # of a port taken meanwhile, which it does forever): another block. Else a failure.
  retry=false
  if kill -0 "$pid" 2>/dev/null; then
    ((state == 2)) && retry=true
    grep -q 'errno=98' "$log" 2>/dev/null && retry=true
  fi
  stop_server
  $retry && continue
  echo "coturn.sh: turnserver did not start (port $base); its output:" >&2
  cat "$dir/stdout.log" "$log" >&2 2>/dev/null || true
  exit 1
done
flock -u "$lock"
exec {lock}<&-
if [[ -z "$port" ]]; then
  echo "coturn.sh: no free block of 100 ports between 20000 and 29999 found" >&2
  [[ -f "$log" ]] && cat "$log" >&2
  exit 1
fi

export TALK_TEST_TURN_URLS="turn:127.0.0.1:$port?transport=udp,turn:127.0.0.1:$port?transport=tcp"
export TALK_TEST_STUN_URLS="stun:127.0.0.1:$port"
export TALK_TEST_TURN_SECRET="$secret"
export TALK_TEST_TURN_PORT="$port" TALK_TEST_TURN_REALM="$realm" TALK_TEST_TURN_LOG="$log"
echo "==> coturn $("$TURNSERVER" --version 2>/dev/null) on 127.0.0.1:$port (UDP and TCP; relay ports $((port + 1))-$((port + 99)); $dir)" >&2
"$@"
