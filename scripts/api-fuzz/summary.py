"""Counts what schemathesis did, from its NDJSON events, and decides the run.

Usage: summary.py EVENTS_NDJSON ST_EXIT_STATUS ST_OUTPUT SERVER_LOG [MIN_REQUESTS]
Passes only when schemathesis passed, every documented operation got requests, no response
was 500 or above, and at least MIN_REQUESTS (default 1000) requests were sent."""

import collections
import json
import os
import re
import sys

events_path, st_status, st_output, server_log = sys.argv[1:5]
min_requests = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
st_status = int(st_status)

requests = 0
statuses = collections.defaultdict(collections.Counter)
failed_checks = collections.Counter()
server_errors = 0
operations = set()
selected = None
if os.path.exists(events_path):
    for line in open(events_path):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        label = recorder["label"]
        operations.add(label)
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            requests += 1
            status = response["status_code"] if response else "no response"
            statuses[label][status] += 1
            if isinstance(status, int) and status >= 500:
                server_errors += 1
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                if check["status"] == "failure":
                    failed_checks[check["name"]] += 1

tested = {label for label, counts in statuses.items() if sum(counts.values())}
document = json.load(open(os.path.join(os.path.dirname(__file__), "../../crates/talk-server/assets/openapi.json")))
documented = {
    f"{method.upper()} {path}"
    for path, item in document["paths"].items()
    for method in item
    if method in ("get", "put", "post", "delete", "patch")
}
# schemathesis reads the document itself from GET /v1/openapi.json, and leaves that out.
untested = sorted(documented - tested - {"GET /v1/openapi.json"})

if os.environ.get("API_FUZZ_VERBOSE"):
    for label in sorted(statuses):
        counts = ", ".join(f"{status}×{n}" for status, n in sorted(statuses[label].items(), key=str))
        print(f"  {label}: {counts}")

violations = sum(failed_checks.values())
print(
    f"api-fuzz: {requests} requests generated over {len(documented) - len(untested)}/{len(documented)} operations; "
    f"{server_errors} responses ≥ 500; {violations} conformance failures"
    + (f" ({', '.join(f'{name}: {n}' for name, n in failed_checks.items())})" if violations else "")
)

problems = []
if st_status != 0:
    problems.append(f"schemathesis exited with {st_status}")
if server_errors:
    problems.append(f"{server_errors} responses of 500 or above")
if untested:
    problems.append("operations without a request: " + ", ".join(untested))
if requests < min_requests:
    problems.append(f"only {requests} requests (at least {min_requests} wanted)")
if problems:
    print(open(st_output).read()[-20000:], file=sys.stderr)
    plain = (re.sub(r"\x1b\[[0-9;]*m", "", line) for line in open(server_log, errors="replace"))
    errors = [line for line in plain if " ERROR " in line or "panicked" in line]
    if errors:
        print("server errors logged:\n" + "".join(errors[-40:]), file=sys.stderr)
    print("api-fuzz: FAILED: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print("api-fuzz: passed")
