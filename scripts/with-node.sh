#!/usr/bin/env bash
# Runs a command on the Node.js that scripts/node-env.sh picks (22.19+ or 24 from PATH, else the
# project's pinned Node 24 in .tools/node). The npm scripts go through this file.
set -euo pipefail
. "$(dirname "$0")/node-env.sh"
exec "$@"
