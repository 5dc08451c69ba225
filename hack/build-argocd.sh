#!/usr/bin/env bash
# Builds Argo CD (the multi-call `argocd` binary: CLI, application controller, repo server, API server)
# from Go modules through the module proxy, into a cache directory keyed by version, outside the
# repository, beside the two files from the same module that running it locally needs: its
# manifests/install.yaml (CRDs, argocd-cm, argocd-secret, argocd-rbac-cm) and hack/git-verify-wrapper.sh
# (the repo server runs it). Nothing is rebuilt when the cached binary already reports the pinned version.
# Prints the directory on its last line; progress goes to stderr.
#
#   hack/build-argocd.sh                   build Argo CD if missing, print its directory
#   AIRLOCK_CACHE_DIR=/somewhere hack/...  use another cache root (default ~/.cache/airlock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
: "${ARGOCD_VERSION:?ARGOCD_VERSION is missing from hack/versions.env; add a line ARGOCD_VERSION=v3.6.x}"
: "${ARGOCD_GO_TOOLCHAIN:?ARGOCD_GO_TOOLCHAIN is missing from hack/versions.env; add a line ARGOCD_GO_TOOLCHAIN=go1.x.y}"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}
out=$cache/argocd-$ARGOCD_VERSION
module=github.com/argoproj/argo-cd/v3
engine=github.com/argoproj/argo-cd/gitops-engine/v3

# Argo CD's go.mod asks for a newer Go than the control plane's; the module proxy serves that toolchain.
# Static binary, as Argo CD's release build makes it. No -trimpath: the Go test in tests/argocd compiles
# the same packages, and only the same flags let it reuse this build's cache.
export GOTOOLCHAIN=$ARGOCD_GO_TOOLCHAIN CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[argocd %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# One build at a time: a second caller (another checkout, a parallel `make`) waits for the first,
# then finds what it built instead of compiling the same thing beside it.
mkdir -p "$cache"
exec 9>"$cache/.lock-argocd"
flock -n 9 || { log "another run of this script holds $cache/.lock-argocd; waiting for it"; flock 9; }

command -v go >/dev/null 2>&1 || {
  echo "error: 'go' is required to build Argo CD $ARGOCD_VERSION; install Go and run again" >&2
  exit 2
}

# `argocd version --client --short` prints "argocd: v3.6.1" for a build stamped as a clean tagged release.
reported() {
  local line=""
  [ -x "$1" ] && line=$("$1" version --client --short 2>/dev/null || true)
  line=${line%%$'\n'*}
  echo "${line#argocd: }"
}

if [ "$(reported "$out/argocd")" = "$ARGOCD_VERSION" ] && [ -f "$out/install.yaml" ] &&
  [ -x "$out/git-verify-wrapper.sh" ]; then
  log "Argo CD $ARGOCD_VERSION already built in $out"
  echo "$out"
  exit 0
fi

start=$(date +%s)
log "building Argo CD $ARGOCD_VERSION with $ARGOCD_GO_TOOLCHAIN (cold: about 15 minutes on 2 cores and 1.8 GB of modules; warm: about 3)"
mkdir -p "$cache"
src=$cache/src/argocd-$ARGOCD_VERSION
tmp=$(mktemp -d "$cache/.argocd-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "downloading $module@$ARGOCD_VERSION"
dir=$(go mod download -json "$module@$ARGOCD_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$dir" ] || { echo "error: could not download $module@$ARGOCD_VERSION through $(go env GOPROXY)" >&2; exit 1; }

# The module's go.mod replaces gitops-engine with ./gitops-engine, a folder the module download does not
# contain. Build a writable copy that takes gitops-engine at the same version from the proxy instead.
rm -rf "$src" && mkdir -p "$(dirname "$src")"
cp -r "$dir" "$src" && chmod -R u+w "$src"
cd "$src"
go mod edit -dropreplace="$engine"
log "resolving modules (gitops-engine $ARGOCD_VERSION from the proxy)"
go get "$engine@$ARGOCD_VERSION"

pkg=$module/common
ldflags="-s -w -X $pkg.version=${ARGOCD_VERSION#v} -X $pkg.gitTag=$ARGOCD_VERSION -X $pkg.gitCommit=$ARGOCD_VERSION"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "compiling ./cmd (one binary; ARGOCD_BINARY_NAME selects the component)"
go build -ldflags "$ldflags" -o "$tmp/argocd" ./cmd

have=$(reported "$tmp/argocd")
if [ "$have" != "$ARGOCD_VERSION" ]; then
  echo "error: built argocd reports version '$have', not $ARGOCD_VERSION; the version stamp did not apply" >&2
  exit 1
fi
mkdir -p "$out"
cp "$src/manifests/install.yaml" "$out/install.yaml"
install -m 0755 "$src/hack/git-verify-wrapper.sh" "$out/git-verify-wrapper.sh"
mv -f "$tmp/argocd" "$out/argocd"
log "Argo CD $ARGOCD_VERSION built in $(( $(date +%s) - start ))s"
echo "$out"
