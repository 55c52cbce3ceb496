#!/usr/bin/env bash
# Size benchmark: builds the widget, then prints the size report and fails when over budget.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/install-tools.sh"
"$ROOT/scripts/build-widget.sh"
exec "$ROOT/scripts/size-report.sh" "$@"
