#!/usr/bin/env bash
# `npm run bench`: picks Node (scripts/node-env.sh), installs what is missing, builds, and runs the
# bench project. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
bash scripts/bootstrap.sh
npm run --silent build
exec vitest run --project bench "$@"
