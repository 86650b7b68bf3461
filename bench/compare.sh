#!/usr/bin/env bash
# Before/after throughput of two builds, alternating A B A B ... so a drift of the machine's
# speed or of the disk hits both alike:
#   - engine alone: flashsale-engine-bench --seconds T --synchronous full (granted durable
#     reservations, random user ids), ops/s;
#   - reserve through HTTP: each build's server, driven by build A's load generator
#     (reserve-only, closed loop, 256 connections, T seconds, --rate-limit off), reserves/s.
# Prints one line per run and, per figure, the median of each build and the median of the
# pair ratios B/A. Bounded: ROUNDS x (2 engine runs + 2 server runs) of T seconds each.
#
# Usage: bench/compare.sh BUILD_A BUILD_B [ROUNDS] [SECONDS]
#   BUILD_A, BUILD_B: directories holding flashsale, flashsale-loadgen, flashsale-engine-bench
#   (release builds: scripts/build.sh). Defaults: 5 rounds of 5 s.
set -euo pipefail
a="$1"
b="$2"
rounds="${3:-5}"
seconds="${4:-5}"
BENCH_NAME=compare
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

engine_ops() {  # engine_ops BUILD: ops/s of one engine bench run
  "$1/flashsale-engine-bench" --seconds "$seconds" --synchronous full --user-ids random |
    grep '^{' | jq -r '.ops_per_s' | tail -1
}

http_reserves() {  # http_reserves BUILD: reserves/s through HTTP against BUILD's server
  reserve_load "$1" "$a" "$work/data-$RANDOM" "$seconds" | jq -r '.rps'
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

: >"$work/engine"
: >"$work/http"
for round in $(seq 1 "$rounds"); do
  ea="$(engine_ops "$a")"
  eb="$(engine_ops "$b")"
  ha="$(http_reserves "$a")"
  hb="$(http_reserves "$b")"
  printf 'round %d: engine A %s B %s ops/s; http reserve A %s B %s req/s\n' \
    "$round" "$ea" "$eb" "$ha" "$hb"
  echo "$ea $eb" >>"$work/engine"
  echo "$ha $hb" >>"$work/http"
done
for figure in engine http; do
  printf '%s: median A %s, median B %s, median of ratios B/A %s\n' "$figure" \
    "$(awk '{print $1}' "$work/$figure" | median)" \
    "$(awk '{print $2}' "$work/$figure" | median)" \
    "$(awk '$1 > 0 {printf "%.3f\n", $2 / $1}' "$work/$figure" | median)"
done
