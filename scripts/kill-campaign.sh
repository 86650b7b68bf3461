#!/usr/bin/env bash
# The kill -9 campaign (docs/reliability.md): a keyed load against the real server, SIGKILL at
# seeded random moments, restart, and the books checked after every restart.
# Usage: scripts/kill-campaign.sh [--store sqlite|postgres] [--kills N] [--seed S] [--json] ...
#        (scripts/kill_campaign.py --help lists every option)
# Builds the server first (scripts/build.sh) unless FLASHSALE_BINARY names one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${FLASHSALE_BINARY:-}"
if [[ -z "$binary" ]]; then
  bash "$root/scripts/build.sh" >/dev/null
  binary="$root/build/flashsale"
fi
exec python3 "$root/scripts/kill_campaign.py" --binary "$binary" "$@"
