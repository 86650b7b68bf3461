#!/usr/bin/env bash
# The main job: install, build, and run one server with the embedded SQLite store and a demo
# sale (demo-sku, 10,000 units). It prints a ready-made JWT and example requests.
# Environment: FLASHSALE_LISTEN (default 127.0.0.1:8080), FLASHSALE_DATA_DIR (default ./data).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/build.sh"
exec "$root/build/flashsale" serve \
  --listen "${FLASHSALE_LISTEN:-127.0.0.1:8080}" \
  --data-dir "${FLASHSALE_DATA_DIR:-$root/data}" \
  --demo
