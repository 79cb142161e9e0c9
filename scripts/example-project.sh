#!/usr/bin/env bash
# FetchBox as a package, as a handler team uses it (CI runs this after `npm test`): packs this
# checkout (`npm pack`; its prepack builds dist/), checks what the tarball ships, installs it into
# a temporary copy of examples/handler-project (dependencies from the npm registry), type-checks
# the example's handler against the package's types, runs its tests (the handler harness, via
# `fetchbox/testing`), then runs one job with it through the installed `fetchbox dev --handlers`
# (scripts/example-project-e2e.mjs: loopback origin, file storage in the temporary directory).
# Exits non-zero on any failure; removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/node-env.sh
bash scripts/bootstrap.sh
temporal=$(bash scripts/tools.sh | sed -n 's/^temporal=//p')
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/fetchbox-example-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "example-project: packing FetchBox"
npm pack --silent --pack-destination "$work" >/dev/null
tarballs=("$work"/fetchbox-*.tgz)
[ ${#tarballs[@]} -eq 1 ] && [ -f "${tarballs[0]}" ] || { echo "example-project: npm pack made no single fetchbox-*.tgz" >&2; exit 1; }
listing=$(tar -tzf "${tarballs[0]}")
for want in package/package.json package/bin/fetchbox.js package/dist/index.js package/dist/index.d.ts \
  package/dist/handlers/testing.js package/dist/handlers/testing.d.ts package/dist/client/fetchbox-client.js package/dist/client/fetchbox-client.d.ts package/dist/cli/main.js package/dist/workflows/index.js; do
  grep -qx "$want" <<<"$listing" || { echo "example-project: the tarball lacks $want" >&2; exit 1; }
done
if unwanted=$(grep -E '^package/(src|test|bench|scripts|docs|deploy|examples|\.tools|node_modules|data)/|\.map$|workflow-bundle\.js$' <<<"$listing"); then
  echo "example-project: the tarball ships files it should not:" >&2
  head -20 <<<"$unwanted" >&2
  exit 1
fi
echo "example-project: $(basename "${tarballs[0]}"): $(wc -l <<<"$listing") files, $(du -k "${tarballs[0]}" | cut -f1) KiB"

cp -R examples/handler-project "$work/project"
rm -rf "$work/project/node_modules" "$work/project/package-lock.json"
mv "${tarballs[0]}" "$work/project/fetchbox.tgz"
cd "$work/project"
echo "example-project: npm install (the tarball and its dependencies)"
npm install --no-audit --no-fund --prefer-offline --loglevel=error
[ ! -e node_modules/fetchbox/src ] || { echo "example-project: the installed package has src/" >&2; exit 1; }

echo "example-project: type-checking handlers.js against the package's types"
node "$root/node_modules/typescript/bin/tsc" -p tsconfig.json

echo "example-project: npm test"
npm test

echo "example-project: one job through fetchbox dev --handlers ./handlers.js"
FETCHBOX_TEMPORAL_BIN=$temporal node "$root/scripts/example-project-e2e.mjs" "$work/data"
echo "example-project: passed in $(( $(date +%s) - started )) s"
