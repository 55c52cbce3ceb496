#!/usr/bin/env bash
# Generated requests against the served OpenAPI document (issue #13): starts a real
# talk-server (debug build, free loopback port, temporary SQLite file), creates a workspace,
# signs the admin in and opens a visitor session, then runs schemathesis over every operation
# of /v1/openapi.json with those credentials. Fails on any response of 500 or above and on
# any response the document does not describe (status code, content type, body schema).
#
# Usage: scripts/check-api-fuzz.sh [--examples N] [--seed N]
#   KEEP_WORK=1      keep the temporary folder (database, logs, schemathesis' events)
#   TALK_SERVER_BIN  the binary to run (default: <target dir>/debug/talk-server, built here
#                    with `cargo build -p talk-server`, which the server tests already did)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

examples=25 seed=13
while (($#)); do
  case "$1" in
    --examples) examples="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "check-api-fuzz: unknown option $1" >&2; exit 2 ;;
  esac
done

st="$ROOT/.tools/schemathesis/bin/st"
if [[ ! -x "$st" ]]; then
  echo "check-api-fuzz: $st is missing: run scripts/install-tools.sh" >&2
  exit 1
fi

if [[ -z "${TALK_SERVER_BIN:-}" ]]; then
  echo "==> building talk-server (debug, as the server tests do)"
  cargo build --locked --quiet -p talk-server
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  TALK_SERVER_BIN="$target_dir/debug/talk-server"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/talk-api-fuzz.XXXXXX")"
server_pid="" st_pid=""
cleanup() {
  if [[ -n "$st_pid" ]]; then kill "$st_pid" 2>/dev/null || true; wait "$st_pid" 2>/dev/null || true; fi
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    # Give it a moment to stop, then make sure.
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "${KEEP_WORK:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Rate limits are raised: the run is one client on one address, and 429 is not what it tests.
export TALK_DATABASE_URL="sqlite://$work/talk.db?mode=rwc"
export TALK_LISTEN="127.0.0.1:0"
export TALK_BROWSER_REQUESTS_PER_MINUTE=1000000
export TALK_LOGIN_ATTEMPTS_PER_MINUTE=1000000
export TALK_SSE_KEEP_ALIVE_SECS=1
# Its agent bot's webhook is on loopback (a closed port), so the bot routes get a real id.
export TALK_BOT_ALLOW_PRIVATE_TARGETS=true
export TALK_WIDGET_DIR="$work/widget" TALK_INBOX_DIR="$work/inbox"
mkdir -p "$work/widget" "$work/inbox"
export RUST_LOG="${RUST_LOG:-warn,talk_server=info}"

"$TALK_SERVER_BIN" workspace create --name "API fuzz" --json >"$work/workspace.json" 2>"$work/create.log" || {
  cat "$work/create.log" >&2; exit 1; }

"$TALK_SERVER_BIN" serve >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
base=""
for _ in $(seq 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "check-api-fuzz: the server exited at start:" >&2; cat "$work/server.log" >&2; exit 1
  fi
  address="$(sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | sed -n 's/.*listening.*address=\([0-9.]*:[0-9]*\).*/\1/p' | head -1)"
  if [[ -n "$address" ]]; then base="http://$address"; break; fi
  sleep 0.1
done
[[ -n "$base" ]] || { echo "check-api-fuzz: the server did not start listening" >&2; cat "$work/server.log" >&2; exit 1; }

# Credentials for every security scheme, and real ids for the routes that take one.
python3 "$ROOT/scripts/api-fuzz/setup.py" "$base" "$work/workspace.json" "$work/schemathesis.toml"

echo "==> schemathesis $("$st" --version | awk '{print $NF}') against $base/v1/openapi.json ($examples examples per operation, seed $seed)"
# In the background, so that a signal to this script is handled at once (bash runs traps only
# between foreground commands) and cleanup can end the run; timeout ends a run that hangs.
(
  cd "$work"
  export PYTHONPATH="$ROOT/scripts/api-fuzz" SCHEMATHESIS_HOOKS=hooks
  TALK_FUZZ_LOGOUT_COOKIE="$(cat "$work/schemathesis.toml.logout-cookie")"
  export TALK_FUZZ_LOGOUT_COOKIE
  exec timeout --kill-after=10 240 "$st" --config-file "$work/schemathesis.toml" run "$base/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" --seed "$seed" --workers 1 \
    --request-timeout 5 --max-failures 50 --no-shrink \
    --suppress-health-check all --warnings off \
    --report ndjson --report-ndjson-path "$work/events.ndjson" \
    --output-truncate false >"$work/st.out" 2>&1
) &
st_pid=$!
status=0
wait "$st_pid" || status=$?
st_pid=""

python3 "$ROOT/scripts/api-fuzz/summary.py" "$work/events.ndjson" "$status" "$work/st.out" "$work/server.log"
