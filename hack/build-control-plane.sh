#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kubectl) from Go modules through the module proxy,
# into a cache directory keyed by version, outside the repository. A tool whose binary already reports
# the pinned version is not rebuilt. Prints the directory that holds the binaries on its last line.
#
#   hack/build-control-plane.sh            build what is missing, print the bin directory
#   AIRLOCK_CACHE_DIR=/somewhere hack/...  use another cache root (default ~/.cache/airlock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}
bin=$cache/bin/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION
k8s_out=$cache/kubernetes-$KUBERNETES_VERSION
etcd_out=$cache/etcd-$ETCD_VERSION

# One wrapper module per tool, so one tool's dependencies never raise another's. Static binaries,
# the local toolchain only, and module-mode resolution of the wrappers' requirements.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[control-plane %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "error: '$1' is required to build the local control plane; install it and run again" >&2
    exit 2
  }
}

elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

build_etcd() {
  # No pipe into head: head exiting early would SIGPIPE etcd and fail the check under pipefail.
  local have=""
  if [ -x "$etcd_out/etcd" ]; then
    have=$("$etcd_out/etcd" --version 2>/dev/null || true)
    have=${have%%$'\n'*}
  fi
  if [ "$have" = "etcd Version: ${ETCD_VERSION#v}" ]; then
    log "etcd $ETCD_VERSION already built in $etcd_out"
    return
  fi
  local start src
  start=$(date +%s)
  src=$cache/src/etcd-$ETCD_VERSION
  rm -rf "$src" && mkdir -p "$src" "$etcd_out"
  log "building etcd $ETCD_VERSION (cold: a few minutes; module downloads first)"
  (
    cd "$src"
    go mod init airlock.local/build-etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$etcd_out/etcd" go.etcd.io/etcd/server/v3
  )
  "$etcd_out/etcd" --version | head -1 >&2
  log "etcd built in $(elapsed "$start")"
}

build_kubernetes() {
  local have=""
  if [ -x "$k8s_out/kube-apiserver" ] && [ -x "$k8s_out/kubectl" ]; then
    have=$("$k8s_out/kube-apiserver" --version 2>/dev/null || true)
  fi
  if [ "$have" = "Kubernetes $KUBERNETES_VERSION" ]; then
    log "kube-apiserver and kubectl $KUBERNETES_VERSION already built in $k8s_out"
    return
  fi
  local start src gomod minor staging replaces go_line godebug_line build_date
  start=$(date +%s)
  src=$cache/src/kubernetes-$KUBERNETES_VERSION
  rm -rf "$src" && mkdir -p "$src" "$k8s_out"
  log "building kube-apiserver and kubectl $KUBERNETES_VERSION (cold: 10-25 minutes on 2 cores)"
  cd "$src"
  go mod init airlock.local/build-kubernetes >/dev/null 2>&1

  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, so
  # `go install pkg@version` refuses it. Point each staging module at its published v0.MINOR.PATCH.
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { echo "error: could not download go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION" >&2; exit 1; }
  minor=v0.${KUBERNETES_VERSION#v1.}
  staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | sort -u)
  [ -n "$staging" ] || { echo "error: found no staging modules in $gomod" >&2; exit 1; }
  replaces=()
  for m in $staging; do replaces+=("-replace=$m=$m@$minor"); done
  go mod edit "${replaces[@]}"
  go_line=$(awk '$1 == "go" {print $2; exit}' "$gomod")
  godebug_line=$(awk '$1 == "godebug" {print $2; exit}' "$gomod")
  go mod edit -go="$go_line"
  [ -z "$godebug_line" ] || go mod edit -godebug="$godebug_line"
  log "resolving modules ($(echo "$staging" | wc -l) staging modules at $minor)"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION"

  # Without these stamps the server reports v0.0.0-master, which breaks kubeVersion checks (helm).
  local major=1 minor_num
  minor_num=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor_num"
    ldflags+=" -X $pkg.buildDate=$build_date -X $pkg.gitTreeState=clean"
  done
  log "compiling (both binaries in one build so shared packages compile once)"
  go build -trimpath -ldflags "$ldflags" -o "$k8s_out/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  "$k8s_out/kube-apiserver" --version >&2
  log "kube-apiserver and kubectl built in $(elapsed "$start")"
}

need go
mkdir -p "$cache"
build_etcd
build_kubernetes

mkdir -p "$bin"
ln -sf "$etcd_out/etcd" "$bin/etcd"
ln -sf "$k8s_out/kube-apiserver" "$bin/kube-apiserver"
ln -sf "$k8s_out/kubectl" "$bin/kubectl"
echo "$bin"
