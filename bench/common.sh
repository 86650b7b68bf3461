# Sourced by the benchmark scripts (bench/compare.sh, bench/tracing.sh, bench/sale.sh):
# sourcing it makes `work` (a new temporary directory, removed on exit), the array `pids` (every
# process in it is killed on exit), and the JWT_SECRET and ADMIN_TOKEN the servers and the load
# generator share. BENCH_NAME (set before sourcing) names the directory.
#
#   start_server SERVER_BUILD DATA_DIR [NAME=VALUE ...] [-- FLAG ...]
# starts SERVER_BUILD/flashsale on 127.0.0.1 (fresh DATA_DIR, --rate-limit off, the environment
# NAME=VALUE added, the flags after -- appended) and sets SERVER_PID and SERVER_PORT.
#
#   reserve_load SERVER_BUILD LOADGEN_BUILD DATA_DIR SECONDS [NAME=VALUE ...]
# starts a server so, drives it with LOADGEN_BUILD/flashsale-loadgen (reserve-only, 256
# connections, SECONDS), prints the loadgen's reserve endpoint JSON, and stops the server.
#
work="$(mktemp -d "/tmp/flashsale-${BENCH_NAME:-bench}.XXXXXX")"
pids=()
bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap bench_cleanup EXIT
JWT_SECRET="bench-jwt-secret-0123456789abcdef"
ADMIN_TOKEN="bench-admin-token-0123456789abcdef"

start_server() {
  local server_build="$1" data="$2"
  shift 2
  local env=() flags=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do env+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  flags=("$@")
  mkdir -p "$data"
  # All connections come from 127.0.0.1: lift the per-address cap where the build has one.
  local help
  help="$("$server_build/flashsale" serve --help 2>&1 || true)"
  grep -q -- '--max-connections-per-ip' <<<"$help" && flags+=(--max-connections-per-ip 10000)
  env "${env[@]}" "$server_build/flashsale" serve --listen 127.0.0.1:0 --data-dir "$data" \
    --jwt-secret "$JWT_SECRET" --admin-token "$ADMIN_TOKEN" --log-level warn --rate-limit off \
    "${flags[@]}" >"$data/stdout" 2>"$data/stderr" &
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  SERVER_PORT=""
  for _ in $(seq 1 200); do
    SERVER_PORT="$(sed -n 's|^flashsale listening on http://127.0.0.1:\([0-9]*\).*|\1|p' \
      "$data/stdout")"
    [ -n "$SERVER_PORT" ] && return 0
    sleep 0.1
  done
  echo "flashsale did not start: $(tail -5 "$data/stderr")" >&2
  return 1
}

reserve_load() {
  local server_build="$1" loadgen_build="$2" data="$3" seconds="$4"
  shift 4
  start_server "$server_build" "$data" "$@"
  timeout 120 "$loadgen_build/flashsale-loadgen" --port "$SERVER_PORT" --jwt-secret "$JWT_SECRET" \
    --admin-token "$ADMIN_TOKEN" --json --no-progress --scenario reserve-only --sku hot \
    --create-stock 1000000000 --connections 256 --duration "$seconds" |
    jq -c '.endpoints.reserve'
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
}
