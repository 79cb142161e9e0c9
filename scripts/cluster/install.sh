#!/usr/bin/env bash
# Installs what the cluster suite (`npm run test:cluster`) runs besides FetchBox: the Temporal server
# and its SQL schema tool, built from go.temporal.io/server at the version the pinned CLI embeds
# (its go.mod has no replace directive), the Temporal Web UI server the same CLI embeds (same
# check), and PostgreSQL from Debian's packages. Idempotent and cached: binaries go to the git-ignored .tools/bin; a warm run takes well under a second.
# Prints the resolved paths, one `name=path` a line (schema= is the postgresql/v12 schema folder).
# Not needed for `npm run dev` or `npm test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS_BIN="$PWD/.tools/bin"
SERVER_VERSION="v1.29.1"   # the server embedded in github.com/temporalio/cli v1.5.1 (scripts/tools.sh)
SERVER_MODULE="go.temporal.io/server"
UI_VERSION="v2.42.1"       # the Web UI server the same CLI embeds (temporal server start-dev --ui-port)
UI_MODULE="github.com/temporalio/ui-server/v2"

need_go() {
  command -v go >/dev/null 2>&1 && return 0
  echo "cluster-install: Go 1.25 or newer is needed to build the Temporal server (https://go.dev/doc/install)" >&2
  exit 1
}

# The Go modules (schema files and the sources of the binaries), checked for a replace directive:
# `go install pkg@version` refuses one, and a replaced module would not be the released server.
need_go
check_module() { # module version -> prints its directory in the module cache
  local dir; dir=$(go env GOMODCACHE)/$1@$2
  if [ ! -f "$dir/go.mod" ]; then
    echo "cluster-install: go mod download $1@$2" >&2
    go mod download "$1@$2" >&2
  fi
  if grep -Eq '^[[:space:]]*replace[[:space:](]' "$dir/go.mod"; then
    echo "cluster-install: $1@$2 has a replace directive; pick another version" >&2
    exit 1
  fi
  echo "$dir"
}
moddir=$(check_module "$SERVER_MODULE" "$SERVER_VERSION")
check_module "$UI_MODULE" "$UI_VERSION" >/dev/null

build() { # binary_name package [version]
  local name=$1 pkg=$2 version=${3:-$SERVER_VERSION}
  [ -x "$TOOLS_BIN/$name" ] && return 0
  mkdir -p "$TOOLS_BIN"
  local tmp; tmp=$(mktemp -d "$TOOLS_BIN/.build-$name.XXXXXX")
  echo "cluster-install: go install $pkg@$version -> .tools/bin/$name (first run only; several minutes)" >&2
  if ! GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -trimpath" go install -ldflags='-s -w' "$pkg@$version" >"$TOOLS_BIN/.$name.log" 2>&1; then
    echo "cluster-install: go install $pkg@$version failed; see .tools/bin/.$name.log:" >&2
    tail -n 20 "$TOOLS_BIN/.$name.log" >&2
    rm -rf "$tmp"; exit 1
  fi
  mv "$tmp/$(basename "$pkg")" "$TOOLS_BIN/$name"
  rm -rf "$tmp"
}
build temporal-server "$SERVER_MODULE/cmd/server"
build temporal-sql-tool "$SERVER_MODULE/cmd/tools/sql"
build temporal-ui-server "$UI_MODULE/cmd/server" "$UI_VERSION"

# PostgreSQL: the newest /usr/lib/postgresql/<major>/bin, else Debian's postgresql package.
find_pg() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
pg_bin=$(find_pg)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/postgres" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "cluster-install: installing PostgreSQL (Debian package postgresql)..." >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } >&2 \
      || { echo "cluster-install: apt-get install postgresql failed" >&2; exit 1; }
    pg_bin=$(find_pg)
  else
    echo "cluster-install: PostgreSQL not found: install it as root (Debian/Ubuntu: apt-get install postgresql)" >&2
    exit 1
  fi
fi
# Debian's package does not start a cluster by itself in containers; the suite runs its own per run.
command -v openssl >/dev/null 2>&1 || { echo "cluster-install: openssl is needed for the run's certificates" >&2; exit 1; }

echo "temporal-server=$TOOLS_BIN/temporal-server"
echo "temporal-sql-tool=$TOOLS_BIN/temporal-sql-tool"
echo "temporal-ui-server=$TOOLS_BIN/temporal-ui-server"
echo "postgres-bin=$pg_bin"
echo "schema=$moddir/schema/postgresql/v12"
