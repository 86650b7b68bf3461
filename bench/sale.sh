#!/usr/bin/env bash
# The sale the design promises: 1,000,000 buyers arriving at 25,000 reserves/s for one SKU of
# 10,000 units; 10 % of the winners abandon (release), the rest check out against the
# simulated gateway at 500 ms per call and wait for their order with held reads. RUNS runs,
# each on a fresh server (embedded store). Per run: reserve P50/P95/P99 over the whole run
# and per second of arrival, checkout P95, requests/s by route, the sell-out time, checkout ->
# final order status (P50/P95/P99), orders still PENDING at the end, and the invariants the
# load generator checks afterwards. Raw reports: OUT_DIR/run-N.json.
#
# Usage: bench/sale.sh [RUNS (default 3)]
# Env:   BUILD_DIR (default <repo>/build): release flashsale and flashsale-loadgen.
#        SALE_USERS (1000000), SALE_RATE (25000 arrivals/s), SALE_UNITS (10000),
#        GATEWAY_MS (500), OUT_DIR (default: a new /tmp/flashsale-sale.XXXXXX),
#        SERVER_FLAGS (extra flags for flashsale serve, e.g. "--payment-concurrency 256").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
runs="${1:-3}"
users="${SALE_USERS:-1000000}"
rate="${SALE_RATE:-25000}"
units="${SALE_UNITS:-10000}"
gateway_ms="${GATEWAY_MS:-500}"
out="${OUT_DIR:-$(mktemp -d /tmp/flashsale-sale.XXXXXX)}"
mkdir -p "$out"
ramp=$(((users + rate - 1) / rate))
BENCH_NAME=sale
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
read -r -a server_flags <<<"${SERVER_FLAGS:-}"

echo "sale: $users users at $rate/s (${ramp} s), $units units, 10 % abandon, gateway ${gateway_ms} ms, $runs runs"
echo "machine: $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg); reports in $out"
for run in $(seq 1 "$runs"); do
  start_server "$build" "$work/data-$run" -- --payment-gateway simulated \
    --payment-simulated-latency-ms "$gateway_ms" "${server_flags[@]}"
  # Arrivals for `ramp` seconds, then up to 30 s for the last winners' checkouts and orders.
  "$build/flashsale-loadgen" --port "$SERVER_PORT" --jwt-secret "$JWT_SECRET" \
    --admin-token "$ADMIN_TOKEN" --json --no-progress --scenario sale --sku "sale-$run" \
    --create-stock "$units" --users "$users" --ramp "$ramp" --arrival constant \
    --connections 1000 --winner-connections 2000 --abandon-share 0.1 --duration "$ramp" \
    --drain 30 \
    >"$out/run-$run.json" || true
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  jq -r --arg run "$run" '
    def f: . * 10 | round / 10;
    "run \($run): \(.seconds | f) s, \(.requests) requests (\(.rps | round)/s), sold out after \(.sold_out_after_seconds // "never" | if type == "number" then f else . end) s",
    "  reserve   P50/P95/P99 \(.endpoints.reserve.p50_ms | f)/\(.endpoints.reserve.p95_ms | f)/\(.endpoints.reserve.p99_ms | f) ms (\(.endpoints.reserve.requests) answered, \(.endpoints.reserve.error_codes.SOLD_OUT // 0) SOLD_OUT)",
    "  checkout  P95 \(.endpoints.checkout.p95_ms // 0 | f) ms (\(.checkouts_accepted) accepted)",
    "  checkout -> final order status P50/P95/P99 \(.order_settled.p50_ms | f)/\(.order_settled.p95_ms | f)/\(.order_settled.p99_ms | f) ms (\(.order_settled.orders) orders); orders \(.orders | to_entries | map("\(.key) \(.value)") | join(", "))",
    "  requests/s by route: \(.endpoints | to_entries | map("\(.key) \(.value.rps | round)") | join(", "))",
    "  reserve by second of arrival:",
    (.endpoints.reserve.by_second[] | "    \(.second): \(.requests) requests, P50/P95/P99 \(.p50_ms | f)/\(.p95_ms | f)/\(.p99_ms | f) ms, max \(.max_ms | f) ms"),
    "  invariants: \(if .invariants.checked then (if .invariants.ok then "ok" else "FAILED: \(.invariants.checks | map(select(.verdict == "FAIL")) | map(.name) | join(", "))" end) else "not checked" end)"
  ' "$out/run-$run.json"
done
