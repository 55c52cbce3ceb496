"""schemathesis hooks (SCHEMATHESIS_HOOKS=hooks), keeping the run's own state usable:

- Logging out with the run's cookie would end the session every other inbox and admin request
  signs in with, so `POST /v1/agent/logout` gets a second session's cookie (setup.py signs in
  twice).
- A generated `PUT /v1/admin/widget-settings` may switch the widget off, and from then on the
  widget's routes answer only "off" (204, 403): the run keeps it on, so they stay exercised.
  The off state has its own tests (tests/admin.rs, tests/embedding.rs)."""

import os

import schemathesis

LOGOUT_COOKIE = os.environ["TALK_FUZZ_LOGOUT_COOKIE"]


@schemathesis.hook
def before_call(context, case, kwargs):
    path, method = case.operation.path, case.method.upper()
    if path == "/v1/agent/logout":
        case.cookies = {**(case.cookies or {}), "talk_agent": LOGOUT_COOKIE}
    elif path == "/v1/admin/widget-settings" and method == "PUT":
        if isinstance(case.body, dict) and case.body.get("enabled") is False:
            case.body["enabled"] = True
