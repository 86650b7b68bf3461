#!/usr/bin/env bash
# Installs dependencies and builds the release binaries into build/ (build/flashsale, ...).
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFLASHSALE_WERROR="${FLASHSALE_WERROR:-$werror}" "$@"
cmake --build "$root/build" -j "$(nproc)"
