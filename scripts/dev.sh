#!/usr/bin/env bash
# `npm run dev`: picks Node (scripts/node-env.sh), installs what is missing (no MinIO or promtool:
# dev runs on file storage), builds, and starts `fetchbox dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
FETCHBOX_TOOLS_MINIO=0 FETCHBOX_TOOLS_PROMTOOL=0 bash scripts/bootstrap.sh
npm run --silent build
exec node bin/fetchbox.js dev "$@"
