#!/usr/bin/env bash
# Lints the HTTP contract (docs/openapi.yaml) with Redocly CLI's `recommended` rules. The CLI
# is pinned in package.json / package-lock.json; `npm ci` installs exactly that version when
# node_modules is missing. Exits non-zero when the spec has an error.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ ! -d node_modules/@redocly/cli ]]; then
  npm ci --no-audit --no-fund
fi
# No telemetry and no update check from CI or developer machines.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
npx --no-install redocly lint docs/openapi.yaml
