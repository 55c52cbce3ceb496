#!/usr/bin/env bash
# The widget's development loop must stay quiet: `trunk serve` beside a running talk-server
# builds once, and then not again while the server writes its SQLite file inside the project
# (Trunk.toml's [watch] list). Fails as soon as a second build starts.
#
# Cheap when the release widget is already built (scripts/build-widget.sh, same target dir):
# cargo has nothing to do, so the one build is wasm-bindgen and wasm-opt. The rest is waiting,
# so scripts/test.sh runs this in the background.
#
#   TRUNK_WATCH_SECONDS   how long to watch after the first build (default 120)
#   TRUNK_FIRST_BUILD_SECONDS   how long the first build may take (default 1200: on a busy
#                         machine it may queue behind another cargo build of the same target)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
WATCH_SECONDS="${TRUNK_WATCH_SECONDS:-120}"
FIRST_BUILD_SECONDS="${TRUNK_FIRST_BUILD_SECONDS:-1200}"

# Where the dev loop's database lives: inside the project, beside what Trunk builds from. It
# holds nothing else, so the server's database is all that changes there; logs and trunk's
# output go elsewhere.
db_dir="$(mktemp -d "$ROOT/.trunk-watch-check.XXXXXX")"
work="$(mktemp -d)"
server_pid=""
trunk_pid=""
writer_pid=""
cleanup() {
  # Server and trunk run in process groups of their own (setsid): trunk's cargo,
  # wasm-bindgen and wasm-opt go with it.
  for pid in $trunk_pid $server_pid; do
    kill -- "-$pid" 2>/dev/null || true
  done
  [[ -z "$writer_pid" ]] || kill "$writer_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$db_dir" "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

echo "==> trunk watch check: a talk-server writing $db_dir/talk.db"
cargo build --locked --quiet -p talk-server
target_dir="$(cargo metadata --format-version 1 --no-deps --offline |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory));')"
server="$target_dir/debug/talk-server"
server_port="$(free_port)"
export TALK_LISTEN="127.0.0.1:$server_port" TALK_PUBLIC_URL="http://127.0.0.1:$server_port"
export TALK_DATABASE_URL="sqlite://$db_dir/talk.db" TALK_WIDGET_DIR=none
capture_key="$("$server" workspace create --name trunk-watch-check --json |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).capture_key));')"
(cd "$db_dir" && exec setsid "$server" serve) >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "$TALK_PUBLIC_URL/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$TALK_PUBLIC_URL/healthz" >/dev/null || { cat "$work/server.log"; exit 1; }

# --release: the profile scripts/build-widget.sh built, so cargo finds everything fresh.
# Its own dist and port: the build in dist/ and a developer's `trunk serve` stay untouched.
trunk_port="$(free_port)"
setsid trunk serve --release --dist "$work/dist" --address 127.0.0.1 --port "$trunk_port" \
  --disable-address-lookup >"$work/trunk.log" 2>&1 &
trunk_pid=$!

builds() { grep -c "starting build" "$work/trunk.log" || true; }
fail() {
  echo "trunk watch check FAILED: $1" >&2
  grep -v "^ *Compiling\|^ *Finished" "$work/trunk.log" | tail -n 40 >&2
  exit 1
}

deadline=$((SECONDS + FIRST_BUILD_SECONDS))
until grep -q "✅ success" "$work/trunk.log"; do
  grep -q "❌ error" "$work/trunk.log" && fail "the first build failed"
  kill -0 "$trunk_pid" 2>/dev/null || fail "trunk serve exited"
  ((SECONDS < deadline)) || fail "no build within ${FIRST_BUILD_SECONDS}s"
  sleep 1
done
curl -fsS -o /dev/null "http://127.0.0.1:$trunk_port/widget/" || fail "trunk serves no preview page"
echo "    first build done after ${SECONDS}s; watching for ${WATCH_SECONDS}s while the server writes"

# A page view every half second: each is a committed SQLite write (WAL, synchronous=FULL).
node -e '
const [url, key, seconds] = process.argv.slice(1);
const visitor = "0123456789abcdef0123456789abcdef";
let sent = 0;
const timer = setInterval(async () => {
  const answer = await fetch(`${url}/v1/talk/track`, {
    method: "POST",
    body: JSON.stringify({ capture_key: key, visitor_id: visitor, url: `https://shop.example/${sent++}` }),
  });
  if (answer.status !== 204) { console.error(`page view: ${answer.status}`); process.exit(1); }
}, 500);
setTimeout(() => { clearInterval(timer); console.log(`    ${sent} page views written`); }, seconds * 1000);
' "$TALK_PUBLIC_URL" "$capture_key" "$WATCH_SECONDS" &
writer_pid=$!
while kill -0 "$writer_pid" 2>/dev/null; do
  (($(builds) == 1)) || fail "$(builds) builds: trunk rebuilt while only the server's files changed"
  sleep 1
done
wait "$writer_pid" || fail "the server refused a page view"
[[ -s "$db_dir/talk.db-wal" || -s "$db_dir/talk.db" ]] || fail "the server wrote no database"
(($(builds) == 1)) || fail "$(builds) builds: trunk rebuilt while only the server's files changed"
echo "==> trunk watch check: 1 build in ${WATCH_SECONDS}s of trunk serve beside a running server"
