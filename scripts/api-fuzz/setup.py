"""Creates what the generated requests authenticate with, on a freshly started server, and
writes schemathesis' config: the admin's `talk_agent` cookie, the workspace's API key, a
visitor's widget session token, the capture key, and real ids for the routes that take one.

Usage: setup.py BASE_URL WORKSPACE_JSON OUT_TOML (standard library only)."""

import json
import sys
import urllib.error
import urllib.request

base, workspace_path, out_path = sys.argv[1:4]
workspace = json.load(open(workspace_path))


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        sys.exit(f"setup: {method} {path}: {error.code} {error.read()[:500]!r}")


def login():
    response, _ = call(
        "POST",
        "/v1/agent/login",
        {"email": workspace["admin_email"], "password": workspace["admin_password"]},
    )
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == "talk_agent":
            return rest.split(";", 1)[0]
    sys.exit("setup: the login set no talk_agent cookie")


cookie = login()
capture_key = workspace["capture_key"]
api_key = workspace["api_key"]
visitor_id = "0123456789abcdef0123456789abcdef"

_, session = call(
    "POST", "/v1/talk/widget/session", {"capture_key": capture_key, "visitor_id": visitor_id}
)
token = session["session_token"]
bearer = {"Authorization": f"Bearer {token}"}
call("POST", "/v1/talk/identify", {"email": "visitor@example.com", "first_name": "Vis"}, bearer)
_, events = call(
    "POST", "/v1/talk/messages", {"type": "send", "client_msg_id": "0f0e0d0c-0b0a-4908-8706-050403020100", "body": "hello"}, bearer
)
ack = next(event for event in events if event.get("type") == "ack")
conversation_id = ack["message"]["conversation_id"]
call(
    "POST",
    "/v1/talk/track",
    {"capture_key": capture_key, "visitor_id": visitor_id, "url": "https://example.com/pricing"},
)
# A verified session makes a person; its id is what /v1/people/{id} takes.
_, minted = call(
    "POST",
    "/v1/talk/session",
    {"fields": {"str::email": "fuzz@example.com", "str::name": "Fuzz Person"}},
    {"X-Api-Key": api_key},
)
person_id = (minted or {}).get("person_id")


# Resetting a password or deleting an agent ends its sessions, and a deleted API key stops
# working: the routes that take an agent's or a key's id act on ones made for that alone
# (schemathesis reuses ids it has seen in responses, which would include the run's own).
admin_cookie = {"Cookie": f"talk_agent={cookie}"}
_, spare_agent = call(
    "POST",
    "/v1/admin/agents",
    {"email": "spare@example.com", "name": "Spare", "role": "agent"},
    admin_cookie,
)
_, spare_key = call("POST", "/v1/admin/api-keys", None, admin_cookie)
# A capture widget: its admin routes and the browser's shown/dismissed act on it (deleting
# it only makes the rest 404s, which the document lists).
_, capture_widget = call(
    "POST",
    "/v1/admin/capture-widgets",
    {"name": "Fuzz", "message": "Hi {{first_name|there}}", "sender": {"kind": "bot"}},
    admin_cookie,
)
# An agent bot for the /v1/admin/bots/{id} routes; its webhook goes nowhere (a closed port).
_, bot = call(
    "POST",
    "/v1/admin/bots",
    {"name": "Fuzz bot", "webhook_url": "http://127.0.0.1:9/hook", "takes": "all_new"},
    admin_cookie,
)


def q(value):
    return json.dumps(value)


lines = [
    "# Written by scripts/api-fuzz/setup.py for one run; not kept.",
    "[auth.openapi.apiKey]",
    f"api_key = {q(api_key)}",
    "[auth.openapi.agentCookie]",
    f"api_key = {q(cookie)}",
    "[auth.openapi.sessionToken]",
    f"bearer = {q(token)}",
    "",
    "# The widget's routes: the capture key where the document names it.",
    "[[operations]]",
    "include-path-regex = '^/v1/talk/widget/(config|launcher[.]css)$'",
    f"parameters = {{ \"query.capture_key\" = {q(capture_key)} }}",
    "",
    "# The conversation routes act on the visitor's conversation (other ids are 404s).",
    "[[operations]]",
    "include-path-regex = '^/v1/(agent/)?conversations/[{]id[}]'",
    f"parameters = {{ \"path.id\" = {q(conversation_id)} }}",
    "",
    "[[operations]]",
    "include-path-regex = '^/v1/admin/agents/[{]id[}]'",
    f"parameters = {{ \"path.id\" = {q(spare_agent['agent']['id'])} }}",
    "",
    "[[operations]]",
    'include-path = "/v1/admin/api-keys/{id}"',
    f"parameters = {{ \"path.id\" = {q(spare_key['id'])} }}",
    "",
    "[[operations]]",
    "include-path-regex = '^/v1/(admin/capture-widgets|talk/captures)/[{]id[}]'",
    f"parameters = {{ \"path.id\" = {q(capture_widget['id'])} }}",
    "",
    "[[operations]]",
    "include-path-regex = '^/v1/admin/bots/[{]id[}]'",
    f"parameters = {{ \"path.id\" = {q(bot['bot']['id'])} }}",
    "",
    "# The stream never ends by itself: read its first event (`ready`) and stop.",
    "[[operations]]",
    'include-path = "/v1/talk/messages/stream"',
    "max-stream-events = 1",
]
if person_id:
    lines += [
        "",
        "[[operations]]",
        'include-path = "/v1/people/{id}"',
        f"parameters = {{ \"path.id\" = {q(person_id)} }}",
    ]
open(out_path, "w").write("\n".join(lines) + "\n")
# hooks.py gives POST /v1/agent/logout a second session to end.
open(out_path + ".logout-cookie", "w").write(login())
print(
    f"setup: workspace {workspace['workspace_id']}, conversation {conversation_id}, "
    f"person {person_id or '(none)'}; admin signed in, visitor session open"
)
