#!/usr/bin/env bash
# A local cluster on 127.0.0.1 for demos, drills and benchmarks: PostgreSQL 15 (Debian's
# binaries) in a temporary directory, N flashsale nodes sharing it (--store postgres://...),
# and HAProxy in front (round robin, health check GET /readyz).
#
#   scripts/cluster.sh start [NODES]   # default 3; prints the URLs and credentials
#   scripts/cluster.sh stop            # stops everything started by `start` and removes the dir
#   scripts/cluster.sh status
#
# Env: BUILD_DIR (default <repo>/build), CLUSTER_DIR (default /tmp/flashsale-cluster),
#      LB_PORT (18080; nodes get LB_PORT+1..), PG_PORT (15432),
#      FLASHSALE_JWT_SECRET / FLASHSALE_ADMIN_TOKEN (defaults below, for local use only).
# Needs postgresql-15 and haproxy (scripts/debian-packages.txt). When run as root PostgreSQL
# runs as the `postgres` user (it refuses root).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
dir="${CLUSTER_DIR:-/tmp/flashsale-cluster}"
lb_port="${LB_PORT:-18080}"
pg_port="${PG_PORT:-15432}"
pg_bin=/usr/lib/postgresql/15/bin
jwt_secret="${FLASHSALE_JWT_SECRET:-cluster-jwt-secret-0123456789abcdef}"
admin_token="${FLASHSALE_ADMIN_TOKEN:-cluster-admin-token-0123456789abcdef}"
store="postgres://postgres@127.0.0.1:${pg_port}/flashsale"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_for_line() {  # file, text, seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "cluster: '$2' not seen in $1:" >&2
  tail -20 "$1" >&2
  return 1
}

start() {
  local nodes="${1:-3}"
  [ -x "$build/flashsale" ] || { echo "cluster: build first ($build/flashsale missing)" >&2; exit 1; }
  [ -e "$dir" ] && { echo "cluster: $dir exists; run '$0 stop' first" >&2; exit 1; }
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  as_postgres "$pg_bin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 >"$dir/initdb.log"
  # fsync and synchronous_commit stay on: acknowledged reservations must be durable.
  as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  as_postgres "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
    -c "CREATE DATABASE flashsale" >/dev/null
  local servers="" i port
  for ((i = 1; i <= nodes; i++)); do
    port=$((lb_port + i))
    FLASHSALE_JWT_SECRET="$jwt_secret" FLASHSALE_ADMIN_TOKEN="$admin_token" \
      FLASHSALE_STORE="$store" nohup "$build/flashsale" serve --listen "127.0.0.1:$port" \
      --data-dir "$dir/node$i" >"$dir/node$i.out" 2>"$dir/node$i.log" &
    echo $! >"$dir/node$i.pid"
    wait_for_line "$dir/node$i.out" "listening on" 30
    servers+="  server node$i 127.0.0.1:$port check inter 500ms fall 2 rise 2"$'\n'
  done
  cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend flashsale
  bind 127.0.0.1:$lb_port
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /readyz
$servers
CFG
  haproxy -f "$dir/haproxy.cfg" -D -p "$dir/haproxy.pid"
  echo "cluster: PostgreSQL $store"
  echo "cluster: $nodes nodes on 127.0.0.1:$((lb_port + 1))..$((lb_port + nodes)), logs in $dir"
  echo "cluster: load balancer http://127.0.0.1:$lb_port"
  echo "FLASHSALE_JWT_SECRET=$jwt_secret"
  echo "FLASHSALE_ADMIN_TOKEN=$admin_token"
}

stop() {
  [ -d "$dir" ] || { echo "cluster: nothing running in $dir"; return 0; }
  local pidfile
  for pidfile in "$dir"/haproxy.pid "$dir"/node*.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$dir"/node*.pid; do
    [ -f "$pidfile" ] || continue
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
  done
  [ -d "$dir/pg" ] && as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  echo "cluster: stopped"
}

status() {
  [ -d "$dir" ] || { echo "cluster: not running"; return 0; }
  local pidfile
  for pidfile in "$dir"/node*.pid "$dir"/haproxy.pid; do
    [ -f "$pidfile" ] || continue
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then state=up; else state=down; fi
    echo "$(basename "$pidfile" .pid): $state"
  done
  as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" status >/dev/null && echo "postgres: up" || echo "postgres: down"
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start [NODES] | stop | status" >&2; exit 2 ;;
esac
