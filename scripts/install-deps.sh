#!/usr/bin/env bash
# Installs every Debian package the project needs. Idempotent; run as root on Debian 12.
# Both README commands call it, so nothing has to be installed by hand.
# Usage: scripts/install-deps.sh [LIST]   LIST: a package list (default debian-packages.txt;
# tests/deploy/image_test.sh passes container-packages.txt, the container tools it alone needs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
list="${1:-$here/debian-packages.txt}"
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$list")
missing=()
# Node.js and npm run the repository's npm tooling (package.json: the OpenAPI linter). A machine
# that already has them (e.g. a newer Node.js from another source) keeps its own: Debian's npm
# package would conflict with it.
command -v npm >/dev/null || wanted+=(nodejs npm)
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
