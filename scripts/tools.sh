#!/usr/bin/env bash
# Makes the `temporal` CLI (dev server + Web UI) and a `minio` server available to FetchBox.
# Order, for each tool: $FETCHBOX_TEMPORAL_BIN / $FETCHBOX_MINIO_BIN, then .tools/bin (git-ignored
# cache), then PATH, then `go install` of a pinned version into .tools/bin. Idempotent: a cached
# run takes well under a second. Prints the resolved paths, one `name=path` a line.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_BIN="$PWD/.tools/bin"
TEMPORAL_MODULE="github.com/temporalio/cli/cmd/temporal@v1.5.1"   # later tags carry a replace directive
MINIO_MODULE="github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
need_minio="${FETCHBOX_TOOLS_MINIO:-1}"

resolve() { # name env_override
  local name=$1 override=$2
  if [ -n "$override" ]; then
    [ -x "$override" ] || { echo "tools: $override (from the environment) is not an executable" >&2; return 1; }
    echo "$override"; return 0
  fi
  if [ -x "$TOOLS_BIN/$name" ]; then echo "$TOOLS_BIN/$name"; return 0; fi
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  return 1
}

missing=()
temporal_bin=$(resolve temporal "${FETCHBOX_TEMPORAL_BIN:-}") || missing+=("temporal=$TEMPORAL_MODULE")
if [ "$need_minio" = 1 ]; then
  minio_bin=$(resolve minio "${FETCHBOX_MINIO_BIN:-}") || missing+=("minio=$MINIO_MODULE")
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v go >/dev/null 2>&1; then
    cat >&2 <<MSG
tools: cannot find ${missing[*]%%=*} and Go is not installed to build them.
Do one of:
  - install Go 1.25 or newer (https://go.dev/doc/install) and run: npm run tools
  - put a Temporal CLI on PATH (e.g. 'brew install temporal') and a MinIO server binary on PATH
  - point FETCHBOX_TEMPORAL_BIN / FETCHBOX_MINIO_BIN at existing binaries
MSG
    exit 1
  fi
  mkdir -p "$TOOLS_BIN"
  echo "tools: building ${missing[*]%%=*} with go install into .tools/bin (first run only; a few minutes)..." >&2
  pids=()
  for entry in "${missing[@]}"; do
    name=${entry%%=*}; module=${entry#*=}
    ( GOBIN="$TOOLS_BIN" GOFLAGS="${GOFLAGS:-} -trimpath" go install -ldflags='-s -w' "$module" >"$TOOLS_BIN/.$name.log" 2>&1 \
        || { echo "tools: go install $module failed; see .tools/bin/.$name.log:" >&2; tail -n 20 "$TOOLS_BIN/.$name.log" >&2; exit 1; } ) &
    pids+=($!)
  done
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  [ $status -eq 0 ] || exit 1
  temporal_bin=$(resolve temporal "${FETCHBOX_TEMPORAL_BIN:-}")
  [ "$need_minio" = 1 ] && minio_bin=$(resolve minio "${FETCHBOX_MINIO_BIN:-}")
fi

# promtool and amtool (alert rule and Alertmanager config checks in the test suite): PATH, else
# Debian's prometheus and prometheus-alertmanager packages.
if [ "${FETCHBOX_TOOLS_PROMTOOL:-1}" = 1 ]; then
  missing=()
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "tools: installing ${missing[*]} (Debian packages, for promtool and amtool)..." >&2
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 \
        || { echo "tools: apt-get install ${missing[*]} failed" >&2; exit 1; }
    else
      echo "tools: promtool/amtool not found: install Prometheus's promtool and Alertmanager's amtool (Debian/Ubuntu: apt-get install prometheus prometheus-alertmanager; macOS: brew install prometheus alertmanager)" >&2
      exit 1
    fi
  fi
  echo "promtool=$(command -v promtool)"
  echo "amtool=$(command -v amtool)"
fi

echo "temporal=$temporal_bin"
[ "$need_minio" = 1 ] && echo "minio=$minio_bin"
exit 0
