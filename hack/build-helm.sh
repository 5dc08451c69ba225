#!/usr/bin/env bash
# Builds helm from Go modules through the module proxy, into a cache directory keyed by version, outside
# the repository. Nothing is rebuilt when the cached binary already reports the pinned version. Prints
# the directory that holds the binary on its last line; progress goes to stderr.
#
#   hack/build-helm.sh                     build helm if missing, print its directory
#   AIRLOCK_CACHE_DIR=/somewhere hack/...  use another cache root (default ~/.cache/airlock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
: "${HELM_VERSION:?HELM_VERSION is missing from hack/versions.env; add a line HELM_VERSION=v3.x.y}"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}
out=$cache/helm-$HELM_VERSION
major=${HELM_VERSION%%.*}   # v3 or v4: the module path carries the major version

# Static binary, the local toolchain only. GOFLAGS from the caller could carry -mod=..., which
# `go install pkg@version` refuses. GOBIN keeps the binary in the cache instead of ~/go/bin; the module and
# build caches stay at their defaults so other builds on the machine share them.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN=$out
unset GOFLAGS

log() { printf '[helm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# One build at a time: a second caller (another checkout, a parallel `make`) waits for the first,
# then finds what it built instead of compiling the same thing beside it.
mkdir -p "$cache"
exec 9>"$cache/.lock-helm"
flock -n 9 || { log "another run of this script holds $cache/.lock-helm; waiting for it"; flock 9; }

command -v go >/dev/null 2>&1 || {
  echo "error: 'go' is required to build helm $HELM_VERSION; install Go and run again" >&2
  exit 2
}

# Capture before comparing: grep -q closing the pipe early would fail the check under pipefail.
have=""
[ -x "$out/helm" ] && have=$("$out/helm" version --template '{{.Version}}' 2>/dev/null || true)
if [ "$have" = "$HELM_VERSION" ]; then
  log "helm $HELM_VERSION already built in $out"
  echo "$out"
  exit 0
fi

start=$(date +%s)
log "building helm $HELM_VERSION (cold: a few minutes on 2 cores; module downloads first)"
gomod=$(go mod download -json "helm.sh/helm/$major@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || {
  echo "error: could not download go.mod of helm.sh/helm/$major@$HELM_VERSION; check the version in hack/versions.env" >&2
  exit 1
}

# Helm's own release build stamps its version and the Kubernetes version its client libraries speak.
# Without these, `helm version` reports only vMAJOR.MINOR and `helm template` assumes Kubernetes 1.20,
# which fails any chart whose kubeVersion asks for more.
k8s_minor=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$gomod" | cut -d. -f2)
[ -n "$k8s_minor" ] || { echo "error: found no k8s.io/client-go requirement in $gomod" >&2; exit 1; }
pkg=helm.sh/helm/$major
ldflags="-s -w -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
# Helm 4 reads the client library's version from the build info itself; Helm 3 needs it stamped.
if [ "$major" = v3 ]; then
  for p in "$pkg/pkg/lint/rules" "$pkg/pkg/chartutil"; do
    ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
  done
fi

mkdir -p "$out"
go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@$HELM_VERSION"
have=$("$out/helm" version --template '{{.Version}}')
if [ "$have" != "$HELM_VERSION" ]; then
  echo "error: built $out/helm reports $have, not $HELM_VERSION; the version stamp did not apply" >&2
  exit 1
fi
log "helm $HELM_VERSION built in $(( $(date +%s) - start ))s (assumes Kubernetes 1.$k8s_minor when no cluster is asked)"
echo "$out"
