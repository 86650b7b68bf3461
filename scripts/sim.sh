#!/usr/bin/env bash
# Runs the deterministic simulation (tests/sim/deterministic_sim.h) for SEEDS seeds from
# FIRST_SEED on, in JOBS processes, and prints per process what it did (commands, faults,
# restarts) and every failing seed. Builds flashsale-sim into build/ first. Exits non-zero when
# a seed failed; the seed then replays alone with `scripts/sim.sh <seed> 1`, and becomes a
# regression test (kRegressionSeeds in tests/sim/deterministic_sim_test.cc).
#
# Usage: scripts/sim.sh [FIRST_SEED (default 1)] [SEEDS (default 10000)] [JOBS (default nproc)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
first="${1:-1}"
seeds="${2:-10000}"
jobs="${3:-$(nproc)}"
if [[ ! -f "$root/build/build.ninja" ]]; then bash "$root/scripts/build.sh"; fi
if command -v ccache >/dev/null; then export CCACHE_BASEDIR="$root"; fi
cmake --build "$root/build" --target flashsale-sim >/dev/null
binary="$root/build/flashsale-sim"

echo "deterministic simulation: seeds $first..$((first + seeds - 1)) in $jobs processes"
start=$(date +%s)
per_job=$(((seeds + jobs - 1) / jobs))
pids=()
logs=()
for ((j = 0; j < jobs; j++)); do
  from=$((first + j * per_job))
  count=$((seeds - j * per_job))
  ((count > per_job)) && count=$per_job
  ((count <= 0)) && break
  log="$(mktemp)"
  logs+=("$log")
  "$binary" --first-seed "$from" --seeds "$count" >"$log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed=1
  cat "${logs[$i]}"
  rm -f "${logs[$i]}"
done
echo "total: $seeds seeds in $(($(date +%s) - start)) s, $([[ $failed -eq 0 ]] && echo "0 failed" || echo "FAILED (see above)")"
exit "$failed"
