#!/usr/bin/env bash
# Multi-node benchmark: reserve and availability throughput and latency of
#   sqlite    one node, embedded SQLite store, clients straight to the node
#   pg1-lb    one node on PostgreSQL 15 behind HAProxy          (scripts/cluster.sh, 1 node)
#   pg1-node  the same node, clients straight to it (the balancer's own cost)
#   pg3-lb    three nodes on one PostgreSQL 15 behind HAProxy   (scripts/cluster.sh, 3 nodes)
# with build/flashsale-loadgen in closed loop (--scenario reserve-only, then availability on
# the same sale), bounded by DURATION seconds each. After each reserve run it saves every
# node's /metrics (batches committed, largest batch) and PostgreSQL's commit count.
#
#   bench/cluster.sh            # BUILD_DIR (default build), OUT_DIR (default a temp dir),
#                               # DURATION (8), CONNECTIONS (64), MODES ("sqlite pg1-lb pg1-node pg3-lb")
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
out="${OUT_DIR:-$(mktemp -d /tmp/flashsale-cluster-bench-XXXXXX)}"
duration="${DURATION:-8}"
connections="${CONNECTIONS:-64}"
modes="${MODES:-sqlite pg1-lb pg1-node pg3-lb}"
loadgen="${LOADGEN:-$build/flashsale-loadgen}"
export FLASHSALE_BINARY="$build/flashsale"
export FLASHSALE_CLUSTER_DIR="$out/cluster"
[[ -x "$loadgen" && -x "$FLASHSALE_BINARY" ]] || { echo "build $build first" >&2; exit 1; }
mkdir -p "$out"

sqlite_pid=""
cleanup() {
  if [[ -n "$sqlite_pid" ]]; then kill "$sqlite_pid" 2>/dev/null || true; wait "$sqlite_pid" 2>/dev/null || true; fi
  "$repo/scripts/cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# run MODE PORT SECRET TOKEN NODE_PORTS...
run() {
  local mode="$1" port="$2" secret="$3" token="$4"
  shift 4
  local sku="bench-$mode"
  echo "== $mode: reserve-only ($connections connections, ${duration}s) =="
  "$loadgen" --port "$port" --jwt-secret "$secret" --admin-token "$token" --no-progress \
    --scenario reserve-only --sku "$sku" --create-stock 1000000000 \
    --connections "$connections" --duration "$duration" | tee "$out/$mode-reserve.txt" ||
    echo "(loadgen exit code $?: see the invariant lines; the reconciliation endpoint answers 503 in cluster mode)"
  local node_port i=0
  for node_port in "$@"; do
    curl -fsS "http://127.0.0.1:$node_port/metrics" >"$out/$mode-node$i.metrics" || true
    echo "node$i: $(grep -E '^flashsale_engine_(batches_committed_total|batch_size_max_seen)' \
      "$out/$mode-node$i.metrics" | tr '\n' ' ')"
    i=$((i + 1))
  done
  if [[ -f "$FLASHSALE_CLUSTER_DIR/pg.port" ]]; then
    echo "postgres commits: $(psql -h 127.0.0.1 -p "$(cat "$FLASHSALE_CLUSTER_DIR/pg.port")" -U postgres -qAt \
      -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'flashsale'" flashsale)"
  fi
  echo "== $mode: availability ($connections connections, ${duration}s) =="
  "$loadgen" --port "$port" --jwt-secret "$secret" --admin-token "$token" --no-progress \
    --scenario availability --sku "$sku" --connections "$connections" --duration "$duration" |
    tee "$out/$mode-availability.txt" || echo "(loadgen exit code $?)"
}

lb_port() { sed 's/.*://' "$FLASHSALE_CLUSTER_DIR/lb.url"; }
node_ports() { cat "$FLASHSALE_CLUSTER_DIR"/node*.port; }

for mode in $modes; do
  case "$mode" in
    sqlite)
      mkdir -p "$out/sqlite"
      "$FLASHSALE_BINARY" serve --listen 127.0.0.1:0 --data-dir "$out/sqlite" \
        --jwt-secret bench-jwt-secret-0123456789abcdef \
        --admin-token bench-admin-token-0123456789abcdef \
        --rate-limit off >"$out/sqlite.stdout" 2>"$out/sqlite.stderr" &
      sqlite_pid=$!
      port=""
      for _ in $(seq 1 100); do
        port="$(sed -n 's#^flashsale listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$out/sqlite.stdout")"
        [[ -n "$port" ]] && break
        sleep 0.2
      done
      [[ -n "$port" ]] || { echo "sqlite server did not start" >&2; exit 1; }
      run sqlite "$port" bench-jwt-secret-0123456789abcdef bench-admin-token-0123456789abcdef "$port"
      kill "$sqlite_pid"; wait "$sqlite_pid" || true; sqlite_pid=""
      ;;
    pg1-lb | pg1-node | pg3-lb)
      nodes=1; [[ "$mode" == pg3-lb ]] && nodes=3
      FLASHSALE_CLUSTER_NODES="$nodes" "$repo/scripts/cluster.sh" start >"$out/$mode-cluster.txt"
      # shellcheck disable=SC1091
      . "$FLASHSALE_CLUSTER_DIR/secrets.env"
      port="$(lb_port)"
      [[ "$mode" == pg1-node ]] && port="$(node_ports | head -n 1)"
      # shellcheck disable=SC2046
      run "$mode" "$port" "$FLASHSALE_JWT_SECRET" "$FLASHSALE_ADMIN_TOKEN" $(node_ports)
      "$repo/scripts/cluster.sh" stop >/dev/null
      ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
done
echo "outputs in $out"
