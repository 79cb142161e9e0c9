#!/usr/bin/env bash
# First step of `npm test` and `npm run dev`: installs npm dependencies when node_modules is
# missing or older than package-lock.json, then makes the temporal and minio binaries available.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install`, not `npm ci`: the lockfile cannot list platform packages that a registry mirror
  # does not serve (e.g. @swc/core's darwin/win32 builds), and `npm ci` refuses such a lockfile.
  # With a lockfile present, `npm install` still installs exactly the locked versions.
  echo "bootstrap: installing npm dependencies..." >&2
  npm install --no-audit --no-fund >&2
fi
bash scripts/tools.sh >/dev/null
