#!/usr/bin/env bash
# The 1,000,000-user sale with the winners' order reads polled (`--order-wait poll`: a GET
# every 100 ms until the order leaves PENDING, the way before held reads) against held
# (`--order-wait long-poll`: GET /api/v1/orders/{id}?wait_seconds=5, answered when the order
# settles), alternating ROUNDS times on fresh servers so drift of the machine hits both alike
# (docs/benchmarks.md, "Push instead of polling"). Each payment takes PAYMENT_MS (a card
# authorisation) on one of 256 gateway calls in flight, so the 9,000 checkouts queue for the
# gateway for a few seconds and a polled order is read many times.
# Prints one JSON line per run: requests served and their rate, the order reads, reserve and
# checkout P95, and the orders' outcome.
# Usage: bench/sale_push.sh [BUILD_DIR] [USERS] [RAMP_SECONDS] [ROUNDS] [PAYMENT_MS]
#        (build 1000000 40 2 500)
set -euo pipefail
build="${1:-build}"
users="${2:-1000000}"
ramp="${3:-40}"
rounds="${4:-2}"
payment_ms="${5:-500}"
secret="bench-jwt-secret-0123456789abcdef"
token="bench-admin-token-0123456789abcdef"
server=""
data=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  [[ -n "$data" ]] && rm -rf "$data"
  return 0
}
trap cleanup EXIT

run() {  # run MODE: one sale on a fresh server
  data="$(mktemp -d /tmp/flashsale-sale-push.XXXXXX)"
  "$build/flashsale" serve --listen 127.0.0.1:0 --data-dir "$data" --jwt-secret "$secret" \
    --admin-token "$token" --log-level warn --rate-limit off --max-connections-per-ip 10000 \
    --payment-simulated-latency-ms "$payment_ms" --payment-concurrency 256 >"$data/stdout" 2>"$data/stderr" &
  server=$!
  local port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's#^flashsale listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$data/stdout")"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || { echo "server did not start" >&2; exit 1; }
  timeout 600 "$build/flashsale-loadgen" --port "$port" --admin-token "$token" \
    --jwt-secret "$secret" --json --no-progress --scenario sale --sku sale \
    --create-stock 10000 --users "$users" --ramp "$ramp" --connections 1000 \
    --abandon-share 0.1 --duration "$((ramp + 5))" --order-wait "$1" >"$data/report.json" || true
  python3 - "$1" "$data/report.json" <<'PY'
import json, sys
mode, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
e = d["endpoints"]
def p95(name):
    return round(e[name]["p95_ms"], 1) if name in e else None
reads = sum(e[n]["requests"] for n in ("order", "order_wait") if n in e)
print(json.dumps({"mode": mode, "requests": d["requests"], "rps": round(d["rps"]),
                  "order_reads": reads, "reserve_p95_ms": p95("reserve"),
                  "checkout_p95_ms": p95("checkout"), "sold_out_after_s": d["sold_out_after_seconds"],
                  "orders": d["orders"], "invariants_ok": d["invariants"]["ok"]}))
PY
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  rm -rf "$data"
  data=""
}

for _ in $(seq 1 "$rounds"); do
  run poll
  run long-poll
done
