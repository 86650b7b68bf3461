#!/usr/bin/env bash
# The style checks CI runs (scripts/test.sh calls this after the build):
#   1. clang-format --dry-run --Werror over every tracked .h/.cc file (.clang-format);
#   2. clang-tidy with the checks in .clang-tidy, plus clang's -Wthread-safety (GUARDED_BY),
#      over every tracked .cc under src/ and bench/. Any finding fails. (tools/loadgen is left
#      out: its C++20 coroutines need a newer clang than Debian 12's 14 with GCC 12's library.)
# Usage: scripts/check-style.sh [build-dir]   (default build/; needs its compile_commands.json)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
cd "$root"

echo "check-style: clang-format"
git ls-files -z '*.h' '*.cc' | xargs -0 clang-format --dry-run --Werror

echo "check-style: clang-tidy ($(clang-tidy --version | grep -o 'version [0-9.]*'))"
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json" >&2; exit 1; }
mapfile -t sources < <(git ls-files 'src/*.cc' 'bench/*.cc')
# The compile commands are GCC's: its warning flags are not clang's business, and -Werror must
# not turn clang's other warnings into findings (the checks and -Wthread-safety decide).
set +e
printf '%s\n' "${sources[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet \
    --extra-arg=-Wthread-safety --extra-arg=-Wno-unknown-warning-option \
    --extra-arg=-Wno-error >"$build/clang-tidy.log" 2>&1
# xargs exits non-zero when any clang-tidy call found something (WarningsAsErrors: '*').
status=$?
set -e
grep -v -E '^[0-9]+ warnings? (generated|and [0-9]+ errors? generated)\.$' "$build/clang-tidy.log" || true
if [ "$status" -ne 0 ]; then
  echo "check-style: clang-tidy found problems (above; also in $build/clang-tidy.log)" >&2
  exit 1
fi
echo "check-style: clean"
