#!/usr/bin/env bash
# A stand-in for kubectl in the blue-green switch test (chart_test.sh): answers the calls
# deploy/blue-green/switch.sh makes from files in $FAKE_KUBECTL_DIR, records every call in
# calls.log and a patch in patch.json, and applies the patch to the live color. No cluster.
#   live-color             the color the live Service selects
#   COLOR.replicas         "<desired> <ready>" of COLOR's Deployment ("" for none)
#   COLOR.rollout-status   exit code of `rollout status` for COLOR (default 0)
# -e/-u/pipefail: an unexpected call must fail loudly, not answer with an empty string.
set -euo pipefail
dir=${FAKE_KUBECTL_DIR:?FAKE_KUBECTL_DIR must name the fake cluster state}
echo "$*" >>"$dir/calls.log"
if [[ "${1:-}" == --namespace ]]; then
  shift 2
fi
unexpected() {
  echo "fake-kubectl: unexpected call: $*" >&2
  exit 99
}
color_of_deployment() {
  case "$1" in
    deployment.apps/flashsale-blue) echo blue ;;
    deployment.apps/flashsale-green) echo green ;;
    *) unexpected "deployment $1" ;;
  esac
}
case "$1 $2" in
  "get service")
    [[ "$*" == *"jsonpath={.spec.selector.flashsale/color}"* ]] || unexpected "$@"
    cat "$dir/live-color"
    ;;
  "get deployments")
    [[ "$3" == -l ]] || unexpected "$@"
    color=${4##*flashsale/color=}
    if [[ -n "$(tr -d '[:space:]' <"$dir/$color.replicas")" ]]; then
      echo "deployment.apps/flashsale-$color"
    fi
    ;;
  "get deployment.apps/"*)
    color=$(color_of_deployment "$2")
    cat "$dir/$color.replicas"
    ;;
  "rollout status")
    color=$(color_of_deployment "$3")
    exit "$(cat "$dir/$color.rollout-status" 2>/dev/null || echo 0)"
    ;;
  "patch service")
    [[ "$4 $5 $6" == "--type merge -p" ]] || unexpected "$@"
    printf '%s\n' "$7" >"$dir/patch.json"
    node -e 'const p = JSON.parse(process.argv[1]); process.stdout.write(p.spec.selector["flashsale/color"]);' \
      "$7" >"$dir/live-color"
    ;;
  *) unexpected "$@" ;;
esac
