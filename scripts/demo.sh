#!/usr/bin/env bash
# The demo: builds the widget, the inbox and the server, starts talk-server on an embedded
# SQLite file (.demo/talk.db) and prints the demo page, the inbox, the keys and the admin login.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

"$ROOT/scripts/install-tools.sh"
echo "==> building the widget"
"$ROOT/scripts/build-widget.sh"
echo "==> building the inbox"
"$ROOT/scripts/build-inbox.sh"
echo "==> building talk-server"
cargo build --locked --profile server -p talk-server
server="${CARGO_TARGET_DIR:-$ROOT/target}/server/talk-server"

export TALK_LISTEN="${TALK_LISTEN:-127.0.0.1:8787}"
export TALK_PUBLIC_URL="${TALK_PUBLIC_URL:-http://$TALK_LISTEN}"
export TALK_DATABASE_URL="${TALK_DATABASE_URL:-sqlite://$ROOT/.demo/talk.db}"
export TALK_WIDGET_DIR="$ROOT/dist"
export TALK_INBOX_DIR="$ROOT/crates/talk-inbox/dist"
export TALK_DEMO_PAGE=true
mkdir -p "$ROOT/.demo"
credentials="$ROOT/.demo/credentials.json"
# The API key is shown once at creation, so the demo keeps it (in the git-ignored .demo/).
if [[ ! -s "$credentials" ]]; then
  "$server" workspace create --name Demo --json >"$credentials.tmp"
  mv "$credentials.tmp" "$credentials"
fi
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$credentials" "$1"; }
capture_key=$(field capture_key) api_key=$(field api_key)

cat <<INFO

  Talk demo
  ---------
  Demo page:    $TALK_PUBLIC_URL/demo?capture_key=$capture_key
  Inbox:        $TALK_PUBLIC_URL/inbox/   (sign in with the admin login below)
  Capture key:  $capture_key
  API key:      $api_key   (secret: server-to-server only)
  Admin login:  $(field admin_email) / $(field admin_password)

  Open the page, click the launcher, give an email and say hello; answer in the inbox, where
  "Widget settings" changes what visitors see. Or answer with the agent API:

    curl -s -H 'X-Api-Key: $api_key' $TALK_PUBLIC_URL/v1/conversations
    curl -s -H 'X-Api-Key: $api_key' -H 'Content-Type: application/json' \\
      -d '{"body": "Hi! How can I help?", "agent_name": "Grace"}' \\
      $TALK_PUBLIC_URL/v1/conversations/<conversation id>/messages

  Mint a verified-session token as the site's backend would (docs/api.md has every field):

    curl -s -H 'X-Api-Key: $api_key' -H 'Content-Type: application/json' \\
      -d '{"fields": {"str::email": "ada@example.com", "str::name": "Ada Lovelace"}}' \\
      $TALK_PUBLIC_URL/v1/talk/session

  Stop with Ctrl-C. Data stays in .demo/ (delete it to start over).

INFO
exec "$server" serve
