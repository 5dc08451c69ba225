#!/usr/bin/env bash
# Builds promtool (Prometheus' rule checker and rule unit-test runner) from Go modules through the module
# proxy, into a cache directory keyed by version, outside the repository. Nothing is rebuilt when the
# cached binary already reports the pinned version. Prints the directory that holds the binary on its last
# line; progress goes to stderr.
#
#   hack/build-promtool.sh                 build promtool if missing, print its directory
#   AIRLOCK_CACHE_DIR=/somewhere hack/...  use another cache root (default ~/.cache/airlock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
: "${PROMETHEUS_VERSION:?PROMETHEUS_VERSION is missing from hack/versions.env; add a line PROMETHEUS_VERSION=v3.x.y}"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}
out=$cache/promtool-$PROMETHEUS_VERSION
want=${PROMETHEUS_VERSION#v}

# Prometheus 3.x.y is published to the module proxy as github.com/prometheus/prometheus v0.3xx.y
# (its tags v3.x.y have no /v3 module path).
IFS=. read -r major minor patch <<<"$want"
[ "$major" = 3 ] || { echo "error: PROMETHEUS_VERSION=$PROMETHEUS_VERSION: only Prometheus 3.x is supported" >&2; exit 2; }
module_version=v0.$(( major * 100 + minor )).$patch

# Static binary, the local toolchain only. GOFLAGS from the caller could carry -mod=..., which
# `go install pkg@version` refuses. GOBIN is a temporary directory beside the cache entry: the binary is
# renamed into place whole, so a test running promtool meanwhile never sees a half-written file. The module
# and build caches stay at their defaults so other builds on the machine share them.
export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS

log() { printf '[promtool %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# One build at a time: a second caller (another checkout, a parallel `make`) waits for the first,
# then finds what it built instead of compiling the same thing beside it.
mkdir -p "$cache"
exec 9>"$cache/.lock-promtool"
flock -n 9 || { log "another run of this script holds $cache/.lock-promtool; waiting for it"; flock 9; }

command -v go >/dev/null 2>&1 || {
  echo "error: 'go' is required to build promtool $PROMETHEUS_VERSION; install Go and run again" >&2
  exit 2
}

# `promtool --version` prints "promtool, version 3.x.y (branch: ..., revision: ...)" on its first line.
reported() {
  local line=""
  [ -x "$1" ] && line=$("$1" --version 2>/dev/null || true)
  line=${line%%$'\n'*}
  line=${line#promtool, version }
  echo "${line%% *}"
}

if [ "$(reported "$out/promtool")" = "$want" ]; then
  log "promtool $PROMETHEUS_VERSION already built in $out"
  echo "$out"
  exit 0
fi

start=$(date +%s)
log "building promtool $PROMETHEUS_VERSION (module $module_version; cold: a few minutes on 2 cores, module downloads first)"
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.promtool-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Prometheus' release build (promu) stamps these; without them `promtool --version` reports nothing to
# compare against and every run would rebuild.
pkg=github.com/prometheus/common/version
ldflags="-s -w -X $pkg.Version=$want -X $pkg.Revision=$module_version -X $pkg.Branch=HEAD"
ldflags+=" -X $pkg.BuildUser=airlock -X $pkg.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
# remove_all_sd: promtool here checks and unit-tests rule files and never discovers targets, so the
# service-discovery plugins (AWS, Azure, GCE, Kubernetes, ... SDKs: most of the compile time) stay out.
GOBIN=$tmp go install -trimpath -tags remove_all_sd -ldflags "$ldflags" \
  "github.com/prometheus/prometheus/cmd/promtool@$module_version"

have=$(reported "$tmp/promtool")
if [ "$have" != "$want" ]; then
  echo "error: built promtool reports version '$have', not $want; the version stamp did not apply" >&2
  exit 1
fi
mkdir -p "$out"
mv -f "$tmp/promtool" "$out/promtool"
log "promtool $PROMETHEUS_VERSION built in $(( $(date +%s) - start ))s"
echo "$out"
