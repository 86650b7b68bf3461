#!/usr/bin/env bash
# What tracing costs on the reserve path: the same server, build and load with tracing off (no
# OTEL endpoint), sampled at 1 % (the default parentbased_traceidratio 0.01) and at 100 %
# (always_on), each exporting to a local OTLP/HTTP receiver (a Python server answering 200),
# access log at its default (errors). Rounds alternate off, 1 %, 100 % so a drift of the
# machine's speed hits all three alike. Per run: reserves/s and P50/P95/P99 (ms) of a closed
# loop of reserve-only requests (256 connections, T seconds); then the medians per mode and
# the median ratios to "off".
#
# Usage: bench/tracing.sh [ROUNDS] [SECONDS]   (defaults: 3 rounds of 5 s)
# Env:   BUILD_DIR (default <repo>/build): flashsale and flashsale-loadgen, release builds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
rounds="${1:-3}"
seconds="${2:-5}"
BENCH_NAME=tracing
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"

# The OTLP receiver: accepts every POST, answers 200 {}.
python3 - >"$work/receiver.port" <<'PY' &
import http.server, socketserver, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$work/receiver.port" ] && break; sleep 0.05; done
receiver="http://127.0.0.1:$(cat "$work/receiver.port")"

run() {  # run MODE: one server and one load; prints "rps p50 p95 p99"
  local env=()
  case "$1" in
    off) ;;
    1%) env=(OTEL_EXPORTER_OTLP_ENDPOINT="$receiver" OTEL_TRACES_SAMPLER_ARG=0.01) ;;
    100%) env=(OTEL_EXPORTER_OTLP_ENDPOINT="$receiver" OTEL_TRACES_SAMPLER=always_on) ;;
  esac
  reserve_load "$build" "$build" "$work/data-$RANDOM" "$seconds" "${env[@]}" |
    jq -r '"\(.rps) \(.p50_ms) \(.p95_ms) \(.p99_ms)"'
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

for round in $(seq 1 "$rounds"); do
  for mode in off 1% 100%; do
    result="$(run "$mode")"
    echo "$mode $result" >>"$work/results"
    printf 'round %d, tracing %-4s: %s reserves/s, P50/P95/P99 %s ms\n' "$round" "$mode" \
      "$(cut -d' ' -f1 <<<"$result")" "$(cut -d' ' -f2- <<<"$result" | tr ' ' '/')"
  done
done
off_rps="$(awk '$1 == "off" {print $2}' "$work/results" | median)"
for mode in off 1% 100%; do
  rps="$(awk -v m="$mode" '$1 == m {print $2}' "$work/results" | median)"
  p95="$(awk -v m="$mode" '$1 == m {print $4}' "$work/results" | median)"
  printf 'tracing %-4s: median %s reserves/s (%.3f of off), median P95 %s ms\n' "$mode" "$rps" \
    "$(awk -v a="$rps" -v b="$off_rps" 'BEGIN {print a / b}')" "$p95"
done
