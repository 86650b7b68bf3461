# Sourced by bench/compare.sh and bench/tracing.sh: one server, one closed-loop reserve load.
#   reserve_load SERVER_BUILD LOADGEN_BUILD DATA_DIR SECONDS [NAME=VALUE ...]
# starts SERVER_BUILD/flashsale (fresh DATA_DIR, --rate-limit off, the environment NAME=VALUE
# added), drives it with LOADGEN_BUILD/flashsale-loadgen (reserve-only, 256 connections,
# SECONDS), prints the loadgen's reserve endpoint JSON, and stops the server. Needs
# JWT_SECRET, ADMIN_TOKEN and the array `pids` (the caller's cleanup kills what is left).
reserve_load() {
  local server_build="$1" loadgen_build="$2" data="$3" seconds="$4"
  shift 4
  mkdir -p "$data"
  # All connections come from 127.0.0.1: lift the per-address cap where the build has one.
  local extra=() help
  help="$("$server_build/flashsale" serve --help 2>&1 || true)"
  grep -q -- '--max-connections-per-ip' <<<"$help" && extra=(--max-connections-per-ip 10000)
  env "$@" "$server_build/flashsale" serve --listen 127.0.0.1:0 --data-dir "$data" \
    --jwt-secret "$JWT_SECRET" --admin-token "$ADMIN_TOKEN" --log-level warn --rate-limit off \
    "${extra[@]}" >"$data/stdout" 2>"$data/stderr" &
  local pid=$!
  pids+=("$pid")
  local port=""
  for _ in $(seq 1 200); do
    port="$(sed -n 's|^flashsale listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$data/stdout")"
    [ -n "$port" ] && break
    sleep 0.1
  done
  timeout 120 "$loadgen_build/flashsale-loadgen" --port "$port" --jwt-secret "$JWT_SECRET" \
    --admin-token "$ADMIN_TOKEN" --json --no-progress --scenario reserve-only --sku hot \
    --create-stock 1000000000 --connections 256 --duration "$seconds" |
    jq -c '.endpoints.reserve'
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}
