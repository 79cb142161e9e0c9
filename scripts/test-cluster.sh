#!/usr/bin/env bash
# `npm run test:cluster`: the cluster suite (test/cluster, vitest project `cluster`). Picks Node
# (scripts/node-env.sh), installs what is missing (npm dependencies, the temporal CLI and MinIO,
# then the Temporal server, its SQL tool and PostgreSQL: scripts/cluster/install.sh), builds dist/
# (the suite runs `node bin/fetchbox.js` processes) and runs the suite. Extra arguments go to vitest.
# Not part of `npm test`; see docs/deployment.md, "Cluster suite".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
bash scripts/bootstrap.sh
started=$(date +%s)
bash scripts/cluster/install.sh >/dev/null
echo "test-cluster: install checked in $(( $(date +%s) - started )) s" >&2
npm run --silent build
exec vitest run --project cluster "$@"
