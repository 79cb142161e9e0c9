#!/usr/bin/env bash
# First step of `npm test` and `npm run dev`: installs npm dependencies when node_modules is
# missing or older than package-lock.json, then makes the temporal and minio binaries available.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
bash scripts/tools.sh >/dev/null
