#!/usr/bin/env bash
# Installs, builds with warnings as errors, and runs the whole test suite (unit and
# black-box integration tests against the real server). CI runs this via .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLASHSALE_WERROR=ON bash "$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure --no-tests=error -j 2 --timeout 900
