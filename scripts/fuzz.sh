#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan, into build-asan/) and
# runs each one in turn for SECONDS_PER_TARGET seconds from its seed corpus with its
# dictionary, then prints one line per target: executions, coverage (cov and ft from
# libFuzzer's final stats), and the crashes, leaks, timeouts and out-of-memory inputs found.
# Exits non-zero when any target found one; the inputs are kept under
# build-asan/tests/fuzz/work/<target>/artifacts/ (docs/reliability.md says what to do next).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET ...]
#   FUZZ_RUNS=N     also stop each target after N executions (the recorded long run: 10^7)
#   FUZZ_JOBS=N     build jobs (default 2)
# New inputs that reach new code go to build-asan/tests/fuzz/work/<target>/corpus/, never into
# the seed corpora in the repository; a later run starts from both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
build="$root/build-asan"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root"
fi
cmake --preset fuzz -S "$root" "${launcher[@]}" >/dev/null
cmake --build "$build" --target fuzz_targets -j "${FUZZ_JOBS:-2}"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for source in "$root"/tests/fuzz/*_fuzzer.cc; do
    name="$(basename "$source" _fuzzer.cc)"
    targets+=("$name")
  done
fi

runs=()
if [[ -n "${FUZZ_RUNS:-}" ]]; then runs=(-runs="$FUZZ_RUNS"); fi
failed=0
rows=()
for name in "${targets[@]}"; do
  work="$build/tests/fuzz/work/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/last-run.log"
  marker="$work/.run-started"
  touch "$marker"
  echo "fuzzing $name for ${seconds}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs}" >&2
  status=0
  "$build/${name}_fuzzer" -max_total_time="$seconds" "${runs[@]}" -timeout=10 -detect_leaks=1 \
    -print_final_stats=1 -dict="$root/tests/fuzz/dict/$name.dict" \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "$root/tests/fuzz/corpus/$name" \
    >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d ' ' -f 2)
  ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | cut -d ' ' -f 2)
  # libFuzzer saves the input of each finding as <kind>-<sha1> and stops at the first.
  found() { find "$work/artifacts" -type f -name "$1-*" -newer "$marker" | wc -l; }
  crashes=$(found crash)
  leaks=$(found leak)
  timeouts=$(found timeout)
  ooms=$(found oom)
  if [[ $status -ne 0 || $crashes -ne 0 || $leaks -ne 0 || $timeouts -ne 0 || $ooms -ne 0 ]]; then
    failed=1
    # A failure that left no input (e.g. in the fuzzer's own start-up) still counts.
    if [[ $crashes -eq 0 && $leaks -eq 0 && $timeouts -eq 0 && $ooms -eq 0 ]]; then crashes=1; fi
    echo "$name: see $log and $work/artifacts/" >&2
  fi
  rows+=("$(printf '%-16s %13s %9s %7s %8s %8s %6s %9s %5s' "$name" "${executions:-?}" \
    "${per_second:-?}" "${cov:-?}" "${ft:-?}" "$crashes" "$leaks" "$timeouts" "$ooms")")
done

printf '%-16s %13s %9s %7s %8s %8s %6s %9s %5s\n' target executions exec/s cov ft crashes \
  leaks timeouts ooms
printf '%s\n' "${rows[@]}"
exit "$failed"
