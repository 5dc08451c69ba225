#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager, kubectl) from Go modules
# through the module proxy, into a cache directory keyed by version, outside the repository. A tool whose
# binaries already report the pinned version is not rebuilt. Prints the directory that holds the binaries
# on its last line.
#
# Tests may be running the cached binaries while this rebuilds them: every binary is built into a temporary
# directory beside the cache entry and renamed into place, so nobody ever executes a half-written file.
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

# One build at a time: a second caller (another checkout, a parallel `make`) waits for the first,
# then finds what it built instead of compiling the same thing beside it.
mkdir -p "$cache"
exec 9>"$cache/.lock-control-plane"
flock -n 9 || { log "another run of this script holds $cache/.lock-control-plane; waiting for it"; flock 9; }

# A scratch directory inside the cache (same file system, so a rename is atomic), removed on exit.
scratch() { mkdir -p "$cache" && mktemp -d "$cache/.build-$1.XXXXXX"; }
scratches=()
trap 'rm -rf "${scratches[@]}"' EXIT

# Renames each named file of directory $1 into directory $2, one atomic rename each.
install_into() {
  local from=$1 to=$2 f
  shift 2
  mkdir -p "$to"
  for f in "$@"; do mv -f "$from/$f" "$to/$f"; done
}

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
  local start src tmp
  start=$(date +%s)
  src=$cache/src/etcd-$ETCD_VERSION
  rm -rf "$src" && mkdir -p "$src"
  tmp=$(scratch etcd) && scratches+=("$tmp")
  log "building etcd $ETCD_VERSION (cold: a few minutes; module downloads first)"
  (
    cd "$src"
    go mod init airlock.local/build-etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  )
  "$tmp/etcd" --version | head -1 >&2
  install_into "$tmp" "$etcd_out" etcd
  log "etcd built in $(elapsed "$start")"
}

k8s_commands=(kube-apiserver kube-controller-manager kubectl)

build_kubernetes() {
  local have="" cmd
  if [ -x "$k8s_out/kube-apiserver" ] && [ -x "$k8s_out/kube-controller-manager" ] && [ -x "$k8s_out/kubectl" ]; then
    have=$("$k8s_out/kube-apiserver" --version 2>/dev/null || true)
    [ "$("$k8s_out/kube-controller-manager" --version 2>/dev/null || true)" = "$have" ] || have=""
  fi
  if [ "$have" = "Kubernetes $KUBERNETES_VERSION" ]; then
    log "${k8s_commands[*]} $KUBERNETES_VERSION already built in $k8s_out"
    return
  fi
  local start src tmp gomod minor staging replaces go_line godebug_line build_date
  start=$(date +%s)
  src=$cache/src/kubernetes-$KUBERNETES_VERSION
  rm -rf "$src" && mkdir -p "$src"
  tmp=$(scratch kubernetes) && scratches+=("$tmp")
  log "building ${k8s_commands[*]} $KUBERNETES_VERSION (cold: 10-25 minutes on 2 cores)"
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
  local pkgs=()
  for cmd in "${k8s_commands[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
  go get "${pkgs[@]/%/@$KUBERNETES_VERSION}"

  # Without these stamps the server reports v0.0.0-master, which breaks kubeVersion checks (helm).
  local major=1 minor_num
  minor_num=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor_num"
    ldflags+=" -X $pkg.buildDate=$build_date -X $pkg.gitTreeState=clean"
  done
  log "compiling (all three in one build so shared packages compile once)"
  go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"
  "$tmp/kube-apiserver" --version >&2
  install_into "$tmp" "$k8s_out" "${k8s_commands[@]}"
  log "${k8s_commands[*]} built in $(elapsed "$start")"
}

need go
mkdir -p "$cache"
build_etcd
build_kubernetes

# Each link is made beside its final name and renamed over it, so it is never missing for a moment.
link() {
  ln -sfn "$1" "$bin/.$2.new"
  mv -fT "$bin/.$2.new" "$bin/$2"
}
mkdir -p "$bin"
link "$etcd_out/etcd" etcd
for cmd in "${k8s_commands[@]}"; do link "$k8s_out/$cmd" "$cmd"; done
echo "$bin"
