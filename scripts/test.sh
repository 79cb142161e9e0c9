#!/usr/bin/env bash
# `npm test`: picks Node (scripts/node-env.sh), installs what is missing, then typecheck, the
# formatter check (Prettier; `npm run format` fixes it), lint, build and the unit, infra (promtool,
# amtool) and integration suites, the last on real servers. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
bash scripts/bootstrap.sh
npm run --silent typecheck
npm run --silent format:check
npm run --silent lint
npm run --silent build
exec vitest run --project unit --project infra --project integration "$@"
