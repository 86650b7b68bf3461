#!/usr/bin/env bash
# Installs, builds with warnings as errors, checks the style (clang-format, clang-tidy with
# -Wthread-safety), lints docs/openapi.yaml (Redocly CLI from npm) and runs the whole test
# suite (unit, simulation and black-box integration tests against the real server, and the
# browser journeys through the web pages).
# CI runs this via .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/build.sh"
bash "$root/scripts/check-style.sh" "$root/build"
bash "$root/scripts/lint-openapi.sh"
# The browser journeys (tests/browser) drive Debian's Chromium with playwright-core, pinned in
# package.json; npm ci installs it when missing and never downloads a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [[ ! -d "$root/node_modules/playwright-core" ]]; then
  (cd "$root" && npm ci --no-audit --no-fund)
fi
cd "$root/build"
ctest --output-on-failure --no-tests=error -j 2 --timeout 900
