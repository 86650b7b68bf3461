#!/usr/bin/env bash
# Moves the live traffic of a blue-green pair to COLOR: patches the selector of the live
# Service (rendered by the blue release, deploy/blue-green/blue.yaml) from one color to the
# other, after checking that COLOR's Deployment is rolled out, every replica ready, and at
# least as large as the color that serves now. docs/operations.md, "Blue-green releases".
#
# Usage: deploy/blue-green/switch.sh [options] blue|green
#   --namespace NS     the releases' namespace (default: kubectl's current one)
#   --service NAME     the live Service (default: flashsale)
#   --group NAME       label app.kubernetes.io/part-of of both colors (default: flashsale)
#   --timeout DURATION how long to wait for COLOR's rollout (default: 300s)
#   --allow-fewer      switch even when COLOR has fewer ready pods than the live color
#   --dry-run          check everything, print the patch, change nothing
# Environment: KUBECTL (default: kubectl), e.g. a kubectl with a --context in front.
# Exit codes: 0 switched (or COLOR already live), 1 a check failed (nothing changed),
# 2 bad usage.
#
# -e: stop at the first failed kubectl call rather than patch on a half-known state;
# -u: a misspelt variable is an error, not an empty selector; pipefail: a failed kubectl in a
# pipeline fails the pipeline.
set -euo pipefail

# Prints the usage above; exits with $1 (2: bad usage).
usage() {
  sed -n '7,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

kubectl_command=${KUBECTL:-kubectl}
namespace=""
service=flashsale
group=flashsale
timeout=300s
allow_fewer=0
dry_run=0
color=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --namespace) [[ $# -ge 2 ]] || usage; namespace=$2; shift 2 ;;
    --service) [[ $# -ge 2 ]] || usage; service=$2; shift 2 ;;
    --group) [[ $# -ge 2 ]] || usage; group=$2; shift 2 ;;
    --timeout) [[ $# -ge 2 ]] || usage; timeout=$2; shift 2 ;;
    --allow-fewer) allow_fewer=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    blue|green) [[ -z "$color" ]] || usage; color=$1; shift ;;
    *) echo "switch: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ -n "$color" ]] || usage

# $kubectl_command may carry its own arguments (KUBECTL="kubectl --context prod").
read -r -a kubectl <<<"$kubectl_command"
if [[ -n "$namespace" ]]; then
  kubectl+=(--namespace "$namespace")
fi

fail() {
  echo "switch: $*; nothing changed" >&2
  exit 1
}

# The color the live Service selects now.
live_color=$("${kubectl[@]}" get service "$service" -o 'jsonpath={.spec.selector.flashsale/color}')
case "$live_color" in
  blue|green) ;;
  *) fail "service/$service selects no color (flashsale/color='$live_color'): not a live Service of this chart" ;;
esac
if [[ "$live_color" == "$color" ]]; then
  echo "switch: service/$service already selects $color"
  exit 0
fi

# The one Deployment of a color, by the labels the chart gives it.
deployment_of() {
  local of_color=$1 names
  names=$("${kubectl[@]}" get deployments \
    -l "app.kubernetes.io/part-of=$group,flashsale/color=$of_color" -o name)
  [[ -n "$names" ]] || fail "no $of_color Deployment (labels part-of=$group, flashsale/color=$of_color)"
  [[ "$names" != *$'\n'* ]] || fail "more than one $of_color Deployment: ${names//$'\n'/ }"
  echo "$names"
}
# "<desired> <ready>" replicas of a Deployment; a missing readyReplicas means 0.
replicas_of() {
  local counts desired ready
  counts=$("${kubectl[@]}" get "$1" -o 'jsonpath={.spec.replicas} {.status.readyReplicas}')
  read -r desired ready <<<"$counts"
  echo "${desired:-0} ${ready:-0}"
}

target=$(deployment_of "$color")
live=$(deployment_of "$live_color")

# Waits until the new color's rollout is complete (every replica updated and available).
"${kubectl[@]}" rollout status "$target" --timeout "$timeout" \
  || fail "$target did not finish its rollout within $timeout"

read -r target_desired target_ready <<<"$(replicas_of "$target")"
read -r _ live_ready <<<"$(replicas_of "$live")"
if (( target_desired == 0 || target_ready < target_desired )); then
  fail "$target has $target_ready of $target_desired replicas ready"
fi
# During a sale the live color may have been scaled to 100 pods; moving all of that traffic
# to a color of 3 would overload it. Scale it first (docs/operations.md, "Scaling").
if (( target_ready < live_ready )) && (( allow_fewer == 0 )); then
  fail "$target has $target_ready ready pods, $live (live) has $live_ready: scale $color first or pass --allow-fewer"
fi

patch="{\"spec\":{\"selector\":{\"flashsale/color\":\"$color\"}}}"
if (( dry_run == 1 )); then
  echo "switch: would run: ${kubectl[*]} patch service $service --type merge -p '$patch'"
  exit 0
fi
"${kubectl[@]}" patch service "$service" --type merge -p "$patch"

now=$("${kubectl[@]}" get service "$service" -o 'jsonpath={.spec.selector.flashsale/color}')
[[ "$now" == "$color" ]] || { echo "switch: service/$service selects '$now' after the patch" >&2; exit 1; }
echo "switch: service/$service now sends to $color ($target, $target_ready pods); it sent to $live_color ($live)"
echo "switch: to go back: $0${namespace:+ --namespace $namespace} --service $service $live_color"
