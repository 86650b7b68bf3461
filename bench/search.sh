#!/usr/bin/env bash
# Search against availability, in the same run (docs/benchmarks.md, "Catalog search"):
#   1. a server on a fresh data dir, a catalog of N sales (flashsale-loadgen --catalog: 1 %
#      OPEN, 9 % SCHEDULED, the rest SOLD_OUT or CLOSED, fixed seed);
#   2. the catalog index's memory: the server's resident set before and after the first search
#      (which builds it);
#   3. for search and for availability (of an OPEN catalog sale): the saturation rate (closed
#      loop, CONNECTIONS connections, SECONDS s), then P50/P95/P99 open loop at 80 % of it.
# Usage: bench/search.sh [BUILD_DIR] [N] [SECONDS] [CONNECTIONS]   (build 10000 8 64)
set -euo pipefail
build="${1:-build}"
count="${2:-10000}"
seconds="${3:-8}"
connections="${4:-64}"
secret="bench-jwt-secret-0123456789abcdef"
token="bench-admin-token-0123456789abcdef"
data="$(mktemp -d /tmp/flashsale-search.XXXXXX)"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT

"$build/flashsale" serve --listen 127.0.0.1:0 --data-dir "$data" --jwt-secret "$secret" \
  --admin-token "$token" --log-level warn --rate-limit off --max-connections-per-ip 10000 \
  >"$data/stdout" 2>"$data/stderr" &
server=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's#^flashsale listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$data/stdout")"
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start" >&2; exit 1; }
rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$server/status"; }

loadgen() {
  "$build/flashsale-loadgen" --port "$port" --admin-token "$token" --jwt-secret "$secret" \
    --json --no-progress --no-check "$@"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

started=$(date +%s.%N)
# Created through the availability scenario: no search may run before the index is measured.
loadgen --scenario availability --sku cat-0 --catalog "$count" --duration 0.1 >/dev/null
created=$(date +%s.%N)
before=$(rss)
curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/products?q=warmup"
after=$(rss)
echo "{\"sales\":$count,\"catalog_created_seconds\":$(python3 -c "print(round($created-$started,1))"),\"index_build_rss_bytes\":$((after - before))}"

for scenario in search availability; do
  saturation=$(loadgen --scenario "$scenario" --sku cat-0 --connections "$connections" \
    --duration "$seconds" | field "round(d['rps'])")
  rate=$((saturation * 8 / 10))
  loadgen --scenario "$scenario" --sku cat-0 --connections "$connections" --duration "$seconds" \
    --rate "$rate" | field "json.dumps({'scenario': '$scenario', 'saturation_rps': $saturation, 'offered_rps': $rate, 'p50_ms': round(list(d['endpoints'].values())[0]['p50_ms'], 2), 'p95_ms': round(list(d['endpoints'].values())[0]['p95_ms'], 2), 'p99_ms': round(list(d['endpoints'].values())[0]['p99_ms'], 2), 'errors': {k: v for k, v in list(d['endpoints'].values())[0]['status'].items() if k != '200'}})"
done
