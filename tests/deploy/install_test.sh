#!/usr/bin/env bash
# Goal: `cmake --install` lays out the binaries: component server is bin/flashsale alone (what
# the container image installs), the default installs bin/flashsale-loadgen too, and the
# installed server runs.
# Usage: tests/deploy/install_test.sh BUILD_DIR   (CTest: install_layout, label deploy)
# -e: any failed step fails the test; -u and pipefail: no silent empty values or pipelines.
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix/server" --component server
cmake --install "$build" --prefix "$prefix/all"
server_files=$(cd "$prefix/server" && find . -type f | sort)
all_files=$(cd "$prefix/all" && find . -type f | sort)
if [[ "$server_files" != "./bin/flashsale" ]]; then
  echo "install_test: component server installed: $server_files" >&2
  exit 1
fi
if [[ "$all_files" != $'./bin/flashsale\n./bin/flashsale-loadgen' ]]; then
  echo "install_test: the default install laid out: $all_files" >&2
  exit 1
fi
"$prefix/server/bin/flashsale" --version
"$prefix/all/bin/flashsale-loadgen" --help >/dev/null
echo "1 passed, 0 failed"
