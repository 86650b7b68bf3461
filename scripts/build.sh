#!/usr/bin/env bash
# Installs dependencies and builds the release binaries into build/ (build/flashsale, ...).
# Both README commands (scripts/demo.sh, scripts/test.sh) build here with the same
# configuration, so running one after the other rebuilds nothing that has not changed.
# Warnings are errors everywhere: the code builds clean with Debian 12's GCC (CI proves it).
# FLASHSALE_WERROR=OFF relaxes that for other compilers. ccache is used when installed.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout: another clone of the same sources hits the same cache.
  export CCACHE_BASEDIR="$root"
fi
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFLASHSALE_WERROR="${FLASHSALE_WERROR:-ON}" "${launcher[@]}" "$@"
cmake --build "$root/build" -j "$(nproc)"
