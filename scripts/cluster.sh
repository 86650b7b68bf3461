#!/usr/bin/env bash
# Cluster harness: PostgreSQL 15, redis-server, three flashsale nodes and HAProxy in front, all
# on 127.0.0.1 in one state directory, from Debian's packages and the binaries in build/.
#
#   scripts/cluster.sh start [NODES]  # prints the load balancer URL and the secrets
#   scripts/cluster.sh status   # what runs, where, and whether it answers
#   scripts/cluster.sh stop     # stops everything and removes the state directory
#
# Environment:
#   FLASHSALE_CLUSTER_DIR        state directory (default $CLUSTER_DIR, else /tmp/flashsale-cluster)
#   FLASHSALE_CLUSTER_NODES      number of flashsale nodes (default 3; `start NODES` wins)
#   LB_PORT, PG_PORT             fixed ports for HAProxy and PostgreSQL (default: free ports)
#   FLASHSALE_JWT_SECRET, FLASHSALE_ADMIN_TOKEN  the nodes' secrets (default: random ones)
#   FLASHSALE_CLUSTER_NODE_ARGS  extra arguments for every node (e.g. "--threads 1")
#   FLASHSALE_CLUSTER_RATE_LIMIT on|off for the nodes (default off: every client is 127.0.0.1)
#   FLASHSALE_CLUSTER_REDIS      auto|off (default auto: started when the nodes take --redis)
#   FLASHSALE_BINARY             the flashsale binary (default $BUILD_DIR/flashsale, build/flashsale)
#   FLASHSALE_CLUSTER_PG_BIN     PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   FLASHSALE_CLUSTER_HAPROXY    the haproxy binary (default haproxy on PATH)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${FLASHSALE_CLUSTER_DIR:-${CLUSTER_DIR:-/tmp/flashsale-cluster}}"
nodes="${FLASHSALE_CLUSTER_NODES:-3}"
[[ "${1:-}" == start && -n "${2:-}" ]] && nodes="$2"
flashsale="${FLASHSALE_BINARY:-${BUILD_DIR:-$repo/build}/flashsale}"
pg_bin="${FLASHSALE_CLUSTER_PG_BIN:-/usr/lib/postgresql/15/bin}"
haproxy="${FLASHSALE_CLUSTER_HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
redis_server="$(command -v redis-server || echo /usr/bin/redis-server)"
readonly repo state nodes flashsale pg_bin haproxy redis_server

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

# Runs a PostgreSQL binary as `postgres` when we are root (PostgreSQL refuses to run as root).
as_postgres() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A TCP port on 127.0.0.1 nobody listens on (a random one, checked by connecting).
free_port() {
  local port attempt
  for attempt in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local tries=$((seconds * 5)) i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

http_ok() { curl -fsS --max-time 2 -o /dev/null "$1"; }

# kill_pidfile FILE: SIGTERM, up to 30 s (a node serves --shutdown-delay-seconds, 5, before it
# drains), then SIGKILL.
kill_pidfile() {
  local file="$1" pid i
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: pid $pid ($file) did not stop in 30 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

log_tail() {
  echo "---- $1 (tail) ----" >&2
  tail -n 30 "$1" >&2 2>/dev/null || true
}

start_postgres() {
  [[ -x "$pg_bin/initdb" ]] || die "PostgreSQL 15 not found in $pg_bin (apt-get install postgresql-15)"
  mkdir -p "$state/pg"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (postgresql-15)"
    chown postgres: "$state/pg"
  fi
  as_postgres "$pg_bin/initdb" -D "$state/pg/data" -U postgres -A trust -E UTF8 --no-sync \
    >"$state/pg/initdb.log" 2>&1 || { log_tail "$state/pg/initdb.log"; die "initdb failed"; }
  local port attempt
  for attempt in 1 2 3; do
    port="${PG_PORT:-$(free_port)}"
    if as_postgres "$pg_bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/postgres.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $state/pg -c max_connections=300" \
      start >>"$state/pg/pg_ctl.log" 2>&1; then
      echo "$port" >"$state/pg.port"
      as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt \
        -c "CREATE DATABASE flashsale" postgres >>"$state/pg/pg_ctl.log" 2>&1 ||
        { log_tail "$state/pg/pg_ctl.log"; die "CREATE DATABASE failed"; }
      return 0
    fi
  done
  log_tail "$state/pg/postgres.log"
  die "PostgreSQL did not start"
}

redis_wanted() {
  [[ "${FLASHSALE_CLUSTER_REDIS:-auto}" != off ]] || return 1
  # Captured first: grep -q ending the pipe early would fail it under pipefail.
  local help
  help="$("$flashsale" serve --help 2>&1 || true)"
  grep -q -- '--redis ' <<<"$help"
}

start_redis() {
  [[ -x "$redis_server" ]] || die "redis-server not found (apt-get install redis-server)"
  mkdir -p "$state/redis"
  local port
  port="$(free_port)"
  "$redis_server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$state/redis" --daemonize yes --pidfile "$state/redis.pid" \
    --logfile "$state/redis/redis.log" || die "redis-server did not start"
  wait_for "redis" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" ||
    { log_tail "$state/redis/redis.log"; die "redis-server not answering on $port"; }
  echo "$port" >"$state/redis.port"
}

start_node() {
  local i="$1" url="$2"
  local dir="$state/node$i" port="" j
  mkdir -p "$dir/data"
  # Every connection comes from the balancer's one address: the per-address cap is raised.
  # The secrets are read from files (mode 600), so they do not show in `ps`.
  local args=(serve --listen 127.0.0.1:0 --data-dir "$dir/data" --store "$url"
    --jwt-secret-file "$state/jwt-secret" --admin-token-file "$state/admin-token"
    --rate-limit "${FLASHSALE_CLUSTER_RATE_LIMIT:-off}" --trusted-proxies 127.0.0.1/32
    --idle-timeout-seconds 150 --max-connections-per-ip 10000)
  if [[ -f "$state/redis.port" ]]; then args+=(--redis "redis://127.0.0.1:$(cat "$state/redis.port")"); fi
  # shellcheck disable=SC2206 # word splitting of the extra arguments is intended
  args+=(${FLASHSALE_CLUSTER_NODE_ARGS:-})
  setsid "$flashsale" "${args[@]}" >"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
  echo $! >"$state/node$i.pid"
  # The node prints "flashsale listening on http://127.0.0.1:PORT" once it accepts requests.
  for ((j = 0; j < 150; j++)); do
    port="$(sed -n 's#^flashsale listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$dir/stdout.log" | head -n 1)"
    [[ -n "$port" ]] && break
    pid_alive "$state/node$i.pid" || { log_tail "$dir/stderr.log"; die "node $i exited at start"; }
    sleep 0.2
  done
  [[ -n "$port" ]] || { log_tail "$dir/stderr.log"; die "node $i did not listen within 30 s"; }
  echo "$port" >"$state/node$i.port"
}

write_haproxy_config() {
  local port="$1" i
  {
    cat <<EOF
# Written by scripts/cluster.sh: round robin over the flashsale nodes, health check /readyz.
global
    # No global maxconn: HAProxy derives it from the file descriptor limit.
    pidfile $state/haproxy.pid
    stats socket $state/haproxy.sock mode 600 level admin

defaults
    mode http
    option http-keep-alive
    option redispatch
    retries 2
    maxconn 4000
    # A buyer holds a reservation for up to 2 minutes before checking out: keep-alive client
    # connections may idle that long (+ margin). Requests themselves are short; the server's
    # own deadlines (payment calls run in the background) stay well under timeout server.
    timeout connect 2s
    timeout http-request 10s
    timeout client 150s
    timeout http-keep-alive 150s
    timeout server 30s
    timeout queue 5s
    timeout check 2s

frontend flashsale
    bind 127.0.0.1:$port
    # The client's address replaces any X-Forwarded-For the client sent (appending, as
    # `option forwardfor` does, would let a client put an address of its choice first).
    http-request set-header X-Forwarded-For %[src]
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2 maxconn 2000
EOF
    for ((i = 0; i < nodes; i++)); do
      echo "    server node$i 127.0.0.1:$(cat "$state/node$i.port") check"
    done
  } >"$state/haproxy.cfg"
}

start_haproxy() {
  [[ -x "$haproxy" ]] || die "haproxy not found (apt-get install haproxy)"
  local port attempt
  for attempt in 1 2 3; do
    port="${LB_PORT:-$(free_port)}"
    write_haproxy_config "$port"
    "$haproxy" -c -q -f "$state/haproxy.cfg" || die "haproxy rejected $state/haproxy.cfg"
    if "$haproxy" -D -f "$state/haproxy.cfg" >"$state/haproxy.log" 2>&1; then
      echo "$port" >"$state/haproxy.port"
      return 0
    fi
  done
  log_tail "$state/haproxy.log"
  die "haproxy did not start"
}

started=0
on_start_exit() {
  if [[ "$started" != 1 ]]; then
    echo "cluster.sh: start failed; stopping what was started" >&2
    cmd_stop >/dev/null 2>&1 || true
  fi
}

cmd_start() {
  [[ -x "$flashsale" ]] || die "$flashsale not found: build first (scripts/build.sh) or set FLASHSALE_BINARY"
  [[ "$nodes" =~ ^[1-9][0-9]?$ ]] || die "FLASHSALE_CLUSTER_NODES must be 1..99"
  if [[ -e "$state" ]]; then
    die "$state exists: a cluster is running or was not stopped (scripts/cluster.sh stop)"
  fi
  mkdir -p "$state"
  chmod 755 "$state"
  # On any failure from here (die exits), stop what was started.
  trap on_start_exit EXIT
  local jwt_secret admin_token
  jwt_secret="${FLASHSALE_JWT_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
  admin_token="${FLASHSALE_ADMIN_TOKEN:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
  (( ${#jwt_secret} >= 32 && ${#admin_token} >= 32 )) ||
    die "FLASHSALE_JWT_SECRET and FLASHSALE_ADMIN_TOKEN must be at least 32 bytes"
  (
    umask 077
    printf '%s\n' "$jwt_secret" >"$state/jwt-secret"
    printf '%s\n' "$admin_token" >"$state/admin-token"
    printf 'FLASHSALE_JWT_SECRET=%s\nFLASHSALE_ADMIN_TOKEN=%s\n' "$jwt_secret" "$admin_token" \
      >"$state/secrets.env"
  )

  start_postgres || return 1
  local url
  url="postgres://postgres@127.0.0.1:$(cat "$state/pg.port")/flashsale"
  echo "$url" >"$state/store.url"
  if redis_wanted; then start_redis || return 1; fi
  local i
  # Node 0 first: it runs the migrations; the others then start together.
  start_node 0 "$url" || return 1
  for ((i = 1; i < nodes; i++)); do start_node "$i" "$url" || return 1; done
  for ((i = 0; i < nodes; i++)); do
    wait_for "node $i ready" 30 http_ok "http://127.0.0.1:$(cat "$state/node$i.port")/readyz" ||
      { log_tail "$state/node$i/stderr.log"; die "node $i not ready (GET /readyz) within 30 s"; }
  done
  start_haproxy || return 1
  local lb="http://127.0.0.1:$(cat "$state/haproxy.port")"
  echo "$lb" >"$state/lb.url"
  wait_for "load balancer" 30 http_ok "$lb/readyz" ||
    { log_tail "$state/haproxy.log"; die "load balancer not answering /readyz within 30 s"; }
  started=1
  cmd_status
  cat <<EOF

load balancer: $lb
jwt secret:    $jwt_secret
admin token:   $admin_token
(also in $state/secrets.env; stop with: scripts/cluster.sh stop)
EOF
}

cmd_stop() {
  [[ -d "$state" ]] || { echo "no cluster at $state"; return 0; }
  kill_pidfile "$state/haproxy.pid"
  local file
  for file in "$state"/node*.pid; do [[ -e "$file" ]] && kill_pidfile "$file"; done
  kill_pidfile "$state/redis.pid"
  if [[ -f "$state/pg/data/postmaster.pid" ]]; then
    as_postgres "$pg_bin/pg_ctl" -D "$state/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_postgres "$pg_bin/pg_ctl" -D "$state/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$state"
  echo "cluster stopped; $state removed"
}

cmd_status() {
  [[ -d "$state" ]] || { echo "no cluster at $state"; return 1; }
  local healthy=0 i port
  if [[ -f "$state/pg.port" ]] &&
    as_postgres "$pg_bin/pg_ctl" -D "$state/pg/data" status >/dev/null 2>&1; then
    echo "postgresql   up    $(cat "$state/store.url" 2>/dev/null)"
  else
    echo "postgresql   DOWN"; healthy=1
  fi
  if [[ -f "$state/redis.port" ]]; then
    if pid_alive "$state/redis.pid"; then
      echo "redis        up    redis://127.0.0.1:$(cat "$state/redis.port")"
    else
      echo "redis        DOWN"; healthy=1
    fi
  fi
  for ((i = 0; i < nodes; i++)); do
    [[ -f "$state/node$i.port" ]] || continue
    port="$(cat "$state/node$i.port")"
    if pid_alive "$state/node$i.pid" && http_ok "http://127.0.0.1:$port/readyz"; then
      echo "node$i        ready http://127.0.0.1:$port (pid $(cat "$state/node$i.pid"))"
    else
      echo "node$i        DOWN  http://127.0.0.1:$port"; healthy=1
    fi
  done
  if [[ -f "$state/haproxy.port" ]] && pid_alive "$state/haproxy.pid" &&
    http_ok "http://127.0.0.1:$(cat "$state/haproxy.port")/readyz"; then
    echo "haproxy      up    http://127.0.0.1:$(cat "$state/haproxy.port")"
  else
    echo "haproxy      DOWN"; healthy=1
  fi
  return "$healthy"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: scripts/cluster.sh start [NODES] | stop | status" >&2
    exit 2
    ;;
esac
