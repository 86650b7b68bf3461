#!/usr/bin/env bash
# The side-by-side benchmark suite, on this machine, in one go:
#   - HTTP ceiling: nginx serving a small static JSON body vs. our availability endpoint
#     (same wrk settings);
#   - durable reserve through HTTP vs. hot-row PostgreSQL (pgbench, one transaction per
#     request, synchronous_commit=on, best of several client counts);
#   - durable reserve vs. Redis Lua decrement-if-positive + SADD (redis-benchmark EVALSHA, no
#     pipelining), default persistence and appendfsync always;
#   - durable reserve vs. --sqlite-synchronous off; open loop at 25k/s; the batching curve
#     (--batch-size-max 1, 8, 64, 512, 4096); a sale of 10,000 units among 1,000,000 users;
#     a bot contest; the microbenchmarks.
# Everything listens on 127.0.0.1, every run is bounded in time (the whole suite takes about
# 5 minutes), and everything started here is stopped on exit (trap). Only ratios from one run
# are meaningful: the disk's flush rate drifts within minutes.
#
# Usage: bench/run.sh [--quick]        (--quick: short runs, for checking the script)
# Env:   BUILD_DIR (default: <repo>/build; built here when a binary is missing),
#        OUT_DIR (default: a new /tmp/flashsale-bench.XXXXXX; raw outputs and results.json).
# Installs scripts/bench-packages.txt (nginx, PostgreSQL, Redis, wrk) when missing: the
# server, the tests and CI never need them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="${OUT_DIR:-$(mktemp -d /tmp/flashsale-bench.XXXXXX)}"
mkdir -p "$out"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

# Durations (seconds). --quick shrinks them to check the script end to end.
if [ "$quick" = 1 ]; then
  T_HTTP=2; T_RESERVE=3; T_CURVE=2; T_PG=2; REDIS_N=20000; SALE_USERS=100000; SALE_RAMP=4
  MICRO_MIN=0.05
else
  T_HTTP=6; T_RESERVE=8; T_CURVE=5; T_PG=5; REDIS_N=200000; SALE_USERS=1000000; SALE_RAMP=40
  MICRO_MIN=0.3
fi
JWT_SECRET="bench-jwt-secret-0123456789abcdef"
ADMIN_TOKEN="bench-admin-token-0123456789abcdef"
WRK_ARGS=(-t1 -c64 "-d${T_HTTP}s" --latency)

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- packages -------------------------------------------------------------------------------
install_packages() {
  mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$root/scripts/bench-packages.txt")
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}
install_packages
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

# --- build ----------------------------------------------------------------------------------
for binary in flashsale flashsale-loadgen flashsale-micro-bench; do
  if [ ! -x "$build/$binary" ]; then
    log "building into $build"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target flashsale flashsale-loadgen \
      flashsale-micro-bench
    break
  fi
done

# --- process bookkeeping --------------------------------------------------------------------
work="$(mktemp -d /tmp/flashsale-bench-work.XXXXXX)"
chmod 755 "$work"
pids=()
pg_data=""
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

stop_pid() {  # stops one process we started and forgets it
  local pid="$1"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local kept=()
  for p in "${pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range (32768-60999 by default): a port that is some outgoing
# connection's local end cannot be bound although nothing listens on it.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 12000))
    if port_free "$port"; then echo "$port"; return 0; fi
  done
  return 1
}
wait_port() {  # waits (bounded) until something listens on $1
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on port $1"
  return 1
}

# Starts flashsale with extra flags; sets FS_PID and FS_PORT.
start_flashsale() {
  local data="$work/fs-data-$RANDOM"
  mkdir -p "$data"
  # All load comes from 127.0.0.1, so per-client rate limiting (on by default) is turned off;
  # tools/contest/fairness_contest.py measures the limiter itself.
  "$build/flashsale" serve --listen 127.0.0.1:0 --data-dir "$data" --jwt-secret "$JWT_SECRET" \
    --admin-token "$ADMIN_TOKEN" --log-level warn --rate-limit off \
    --max-connections-per-ip 10000 "$@" >"$data/stdout" 2>"$data/stderr" &
  FS_PID=$!
  pids+=("$FS_PID")
  FS_PORT=""
  for _ in $(seq 1 200); do
    FS_PORT="$(sed -n 's|^flashsale listening on http://127.0.0.1:\([0-9]*\).*|\1|p' \
      "$data/stdout")"
    [ -n "$FS_PORT" ] && return 0
    sleep 0.1
  done
  log "flashsale did not start: $(tail -5 "$data/stderr")"
  return 1
}

loadgen() {  # loadgen NAME args...: JSON report into $out/NAME.json
  local name="$1"
  shift
  timeout 300 "$build/flashsale-loadgen" --port "$FS_PORT" --jwt-secret "$JWT_SECRET" \
    --admin-token "$ADMIN_TOKEN" --json --no-progress "$@" >"$out/$name.json" ||
    log "loadgen $name exited non-zero (see $out/$name.json)"
}

wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_p99_ms() {  # wrk --latency prints "99%  1.23ms" (or us/s)
  awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) \
    {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$1"
}

# --- 1. HTTP ceiling: nginx vs. availability ------------------------------------------------
log "nginx static JSON vs. availability, wrk ${WRK_ARGS[*]}"
NGINX_PORT="$(free_port)"
mkdir -p "$work/nginx/html" "$work/nginx/tmp"
printf '{"sku_id":"bench","available":1000,"status":"OPEN"}' >"$work/nginx/html/availability"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/nginx/html;
    default_type application/json;
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx/stderr" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$NGINX_PORT"
wrk "${WRK_ARGS[@]}" "http://127.0.0.1:$NGINX_PORT/availability" >"$out/wrk-nginx.txt"
stop_pid "$nginx_pid"

start_flashsale
"$build/flashsale-loadgen" --port "$FS_PORT" --admin-token "$ADMIN_TOKEN" --jwt-secret \
  "$JWT_SECRET" --scenario availability --sku bench --create-stock 1000 --requests 1 \
  --no-progress --no-check >/dev/null
wrk "${WRK_ARGS[@]}" "http://127.0.0.1:$FS_PORT/api/v1/products/bench/availability" \
  >"$out/wrk-availability.txt"

# --- 2. open loop, sale, contest (same server), then durable vs. fsync off ------------------
log "durable reserve, open loop 25000/s, ${T_RESERVE}s"
loadgen reserve-open-25k --scenario reserve-only --sku hot --create-stock 1000000000 \
  --rate 25000 --connections 1000 --duration "$T_RESERVE"
log "sale: 10000 units, $SALE_USERS users over ${SALE_RAMP}s"
loadgen sale --scenario sale --sku sale --create-stock 10000 --users "$SALE_USERS" \
  --ramp "$SALE_RAMP" --connections 1000 --abandon-share 0.1 --duration "$((SALE_RAMP + 5))"
log "contest: 1000 honest users over 2 s vs. 8 bots, 100 units"
loadgen contest --scenario contest --sku contest --create-stock 100 --honest-users 1000 \
  --honest-window 2 --bot-clients 8 --bot-ips 2 --bot-devices 2 --connections 64 --duration 5
stop_pid "$FS_PID"

# Durable and fsync-off alternate twice (best of each is kept), so a drift of the disk or of
# other load on the machine hits both alike.
for round in 1 2; do
  log "durable reserve (round $round), closed loop 256 connections, ${T_RESERVE}s"
  start_flashsale
  loadgen "reserve-durable-$round" --scenario reserve-only --sku hot \
    --create-stock 1000000000 --connections 256 --duration "$T_RESERVE"
  stop_pid "$FS_PID"
  log "reserve with --sqlite-synchronous off (round $round)"
  start_flashsale --sqlite-synchronous off
  loadgen "reserve-fsync-off-$round" --scenario reserve-only --sku hot \
    --create-stock 1000000000 --connections 256 --duration "$T_RESERVE"
  stop_pid "$FS_PID"
done
best_of() {  # best_of NAME: the better reserve rate of NAME-1 and NAME-2
  jq -s '[.[].endpoints.reserve.rps] | max' "$out/$1-1.json" "$out/$1-2.json" 2>/dev/null ||
    echo 0
}

# --- 3. batching curve ----------------------------------------------------------------------
for batch in 1 8 64 512 4096; do
  log "batching curve: --batch-size-max $batch"
  start_flashsale --batch-size-max "$batch"
  loadgen "batch-$batch" --scenario reserve-only --sku hot --create-stock 1000000000 \
    --connections 256 --duration "$T_CURVE"
  stop_pid "$FS_PID"
done

# --- 4. PostgreSQL hot row ------------------------------------------------------------------
log "PostgreSQL hot row (pgbench, synchronous_commit=on)"
PG_PORT="$(free_port)"
pg_data="$work/pg"
mkdir -p "$pg_data"
chown postgres: "$pg_data"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/log" -w -o \
  "-p $PG_PORT -k $pg_data -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on \
   -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
psql_() { runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qAt "$@"; }
psql_ -c "CREATE TABLE inventory (sku text PRIMARY KEY, reserved bigint NOT NULL,
            total bigint NOT NULL, CHECK (reserved <= total));
          CREATE TABLE reservations (id bigserial PRIMARY KEY, sku text NOT NULL,
            user_id bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
          INSERT INTO inventory VALUES ('hot', 0, 1000000000);"
cat >"$work/pg-reserve.sql" <<'EOF'
\set uid random(1, 1000000000)
WITH taken AS (UPDATE inventory SET reserved = reserved + 1
               WHERE sku = 'hot' AND reserved < total RETURNING sku)
INSERT INTO reservations (sku, user_id) SELECT sku, :uid FROM taken;
EOF
chmod 644 "$work/pg-reserve.sql"
: >"$out/pgbench.txt"
for clients in 1 4 16 64; do
  threads=$((clients < 2 ? clients : 2))
  echo "clients $clients" >>"$out/pgbench.txt"
  timeout 60 runuser -u postgres -- pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n \
    -c "$clients" -j "$threads" -T "$T_PG" -f "$work/pg-reserve.sql" postgres \
    >>"$out/pgbench.txt" 2>&1 || log "pgbench with $clients clients failed"
done
psql_ -c "SELECT 'pg rows', count(*), (SELECT reserved FROM inventory) FROM reservations" \
  >>"$out/pgbench.txt"
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null
pg_data=""

# --- 5. Redis Lua ---------------------------------------------------------------------------
LUA='local s = tonumber(redis.call("GET", KEYS[1])) if s and s > 0 then redis.call("DECR", KEYS[1]) redis.call("SADD", KEYS[2], ARGV[1]) return 1 end return 0'
redis_run() {  # redis_run NAME extra-server-args...
  local name="$1"
  shift
  local port dir
  port="$(free_port)"
  dir="$work/redis-$name"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no "$@" \
    >"$dir/log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port" || { tail -5 "$dir/log" >&2; return 1; }
  redis-cli -p "$port" SET stock 1000000000 >/dev/null
  local sha
  sha="$(redis-cli -p "$port" SCRIPT LOAD "$LUA")"
  timeout 120 redis-benchmark -p "$port" -c 50 -P 1 -n "$REDIS_N" -r 1000000000 --csv \
    EVALSHA "$sha" 2 stock buyers __rand_int__ >"$out/redis-$name.csv" 2>&1 ||
    log "redis-benchmark $name failed"
  redis-cli -p "$port" EVALSHA "$sha" 2 stock buyers check >/dev/null
  echo "stock left $(redis-cli -p "$port" GET stock), buyers $(redis-cli -p "$port" SCARD buyers)" \
    >>"$out/redis-$name.csv"
  stop_pid "$pid"
}
log "Redis Lua, default persistence"
redis_run default
log "Redis Lua, appendonly yes + appendfsync always"
redis_run always --appendonly yes --appendfsync always

# --- 6. microbenchmarks ---------------------------------------------------------------------
log "microbenchmarks"
"$build/flashsale-micro-bench" --benchmark_min_time="$MICRO_MIN" \
  --benchmark_out="$out/micro.json" --benchmark_out_format=json >"$out/micro.txt" 2>&1

# --- 7. summary -----------------------------------------------------------------------------
j() { jq -r "$2" "$out/$1.json" 2>/dev/null || echo 0; }
nginx_rps="$(wrk_rps "$out/wrk-nginx.txt")"
avail_rps="$(wrk_rps "$out/wrk-availability.txt")"
durable_rps="$(best_of reserve-durable)"
off_rps="$(best_of reserve-fsync-off)"
pg_best="$(awk '/^tps = / {print $3}' "$out/pgbench.txt" | sort -g | tail -1)"
redis_rps() { awk -F, '/EVALSHA/ {gsub(/"/,"",$2); print $2}' "$out/redis-$1.csv" | head -1; }
redis_default="$(redis_rps default)"
redis_always="$(redis_rps always)"
handoff="$(jq -r '[.benchmarks[] | select(.name|startswith("BM_EngineInboxHandoff")) |
  .items_per_second] | max' "$out/micro.json")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

{
  echo
  echo "== flashsale side by side ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores) =="
  printf '%-46s %14s %14s %8s %10s\n' "comparison" "ours" "theirs" "ratio" "target"
  printf '%-46s %14.0f %14.0f %8s %10s\n' "availability req/s vs nginx static" "$avail_rps" \
    "$nginx_rps" "$(ratio "$avail_rps" "$nginx_rps")" ">= 0.8"
  printf '%-46s %14.0f %14.0f %8s %10s\n' "durable reserve/s vs PostgreSQL hot row TPS" \
    "$durable_rps" "${pg_best:-0}" "$(ratio "$durable_rps" "${pg_best:-0}")" ">= 30"
  printf '%-46s %14.0f %14.0f %8s %10s\n' "durable reserve/s vs Redis Lua (default)" \
    "$durable_rps" "${redis_default:-0}" "$(ratio "$durable_rps" "${redis_default:-0}")" ">= 1"
  printf '%-46s %14.0f %14.0f %8s %10s\n' "durable reserve/s vs Redis Lua (fsync always)" \
    "$durable_rps" "${redis_always:-0}" "$(ratio "$durable_rps" "${redis_always:-0}")" ">= 2"
  printf '%-46s %14.0f %14.0f %8s %10s\n' "durable reserve/s vs sqlite synchronous=off" \
    "$durable_rps" "$off_rps" "$(ratio "$durable_rps" "$off_rps")" ">= 0.5"
  echo
  printf '%-46s %s\n' "open loop 25000/s offered: achieved, P99 ms" \
    "$(j reserve-open-25k '"\(.endpoints.reserve.rps|floor)/s, P99 \(.endpoints.reserve.p99_ms*100|floor/100) ms (target <= 20), unsent \(.unsent_jobs)"')"
  printf '%-46s %s\n' "sale 10000 units / $SALE_USERS users" \
    "$(j sale '"sold out after \(.sold_out_after_seconds // "never") s, reserve P95 \(.endpoints.reserve.p95_ms*100|floor/100) ms (<= 120), checkout \(.checkout) P95 \((.endpoints.checkout.p95_ms // 0)*100|floor/100) ms (<= 450), invariants ok: \(.invariants.ok)"')"
  printf '%-46s %s\n' "contest 100 units: honest vs bots" \
    "$(j contest '"honest \(.units.honest), bots \(.units.bots), invariants ok: \(.invariants.ok)"')"
  printf '%-46s %.0f ops/s (target >= 5M)\n' "engine inbox hand-off (micro)" "${handoff:-0}"
  echo
  echo "batching curve (reserve, closed loop, 256 connections):"
  printf '  %-16s %10s %9s %9s\n' "batch-size-max" "req/s" "p50 ms" "p99 ms"
  for batch in 1 8 64 512 4096; do
    printf '  %-16s %10.0f %9.2f %9.2f\n' "$batch" "$(j "batch-$batch" '.endpoints.reserve.rps')" \
      "$(j "batch-$batch" '.endpoints.reserve.p50_ms')" \
      "$(j "batch-$batch" '.endpoints.reserve.p99_ms')"
  done
  echo
  printf 'wrk P99 ms: nginx %s, availability %s\n' "$(wrk_p99_ms "$out/wrk-nginx.txt")" \
    "$(wrk_p99_ms "$out/wrk-availability.txt")"
  echo "raw outputs: $out"
} | tee "$out/summary.txt"
