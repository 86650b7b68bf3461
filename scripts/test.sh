#!/usr/bin/env bash
# Installs, builds with warnings as errors, checks the style (clang-format, clang-tidy with
# -Wthread-safety), lints docs/openapi.yaml (Redocly CLI from npm) and runs the whole test
# suite (unit, simulation and black-box integration tests against the real server).
# CI runs this via .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/build.sh"
bash "$root/scripts/check-style.sh" "$root/build"
bash "$root/scripts/lint-openapi.sh"
cd "$root/build"
ctest --output-on-failure --no-tests=error -j 2 --timeout 900
