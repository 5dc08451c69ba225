#!/usr/bin/env bash
# Fetches the CRDs of Argo Rollouts (Rollout) and KEDA (ScaledObject) from the projects' own Go modules
# through the module proxy, at the versions pinned in hack/versions.env, into a cache directory keyed by
# version outside the repository. Nothing is fetched again when the cached files are there. Prints the
# path of each CRD file, one a line; progress goes to stderr.
#
#   hack/fetch-crds.sh                     fetch what is missing, print the CRD files
#   AIRLOCK_CACHE_DIR=/somewhere hack/...  use another cache root (default ~/.cache/airlock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
: "${ARGO_ROLLOUTS_VERSION:?ARGO_ROLLOUTS_VERSION is missing from hack/versions.env}"
: "${KEDA_VERSION:?KEDA_VERSION is missing from hack/versions.env}"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}
export GOTOOLCHAIN=local
unset GOFLAGS

log() { printf '[crds %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# One build at a time: a second caller (another checkout, a parallel `make`) waits for the first,
# then finds what it built instead of compiling the same thing beside it.
mkdir -p "$cache"
exec 9>"$cache/.lock-crds"
flock -n 9 || { log "another run of this script holds $cache/.lock-crds; waiting for it"; flock 9; }

command -v go >/dev/null 2>&1 || { echo "error: 'go' is required to fetch the CRDs; install Go" >&2; exit 2; }
command -v unzip >/dev/null 2>&1 || { echo "error: 'unzip' is required to fetch the CRDs" >&2; exit 2; }

# fetch NAME MODULE VERSION FILE...: the files, read from the module zip the proxy serves (verified against
# the checksum database by `go mod download`). The zip is read rather than the extracted tree, since a
# module whose go directive asks for a newer toolchain than the local one is downloaded but not extracted.
fetch() {
  local name=$1 module=$2 version=$3
  shift 3
  local out=$cache/$name-$version missing=0 f
  for f in "$@"; do [ -s "$out/$(basename "$f")" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    local start zip
    start=$(date +%s)
    log "downloading $module@$version from the module proxy"
    # It exits non-zero when it cannot extract the module (see above) even though the zip is in place.
    zip=$( (go mod download -json "$module@$version" || true) | sed -n 's/.*"Zip": "\(.*\)".*/\1/p')
    [ -f "$zip" ] || { echo "error: could not download $module@$version; check hack/versions.env" >&2; exit 1; }
    mkdir -p "$out.tmp"
    for f in "$@"; do
      unzip -p "$zip" "$module@$version/$f" > "$out.tmp/$(basename "$f")"
      [ -s "$out.tmp/$(basename "$f")" ] || { echo "error: $f is not in $module@$version" >&2; exit 1; }
    done
    rm -rf "$out" && mv "$out.tmp" "$out"
    log "$name $version CRDs in $out after $(( $(date +%s) - start ))s"
  fi
  for f in "$@"; do echo "$out/$(basename "$f")"; done
}

fetch argo-rollouts github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION" manifests/crds/rollout-crd.yaml
fetch keda github.com/kedacore/keda/v2 "$KEDA_VERSION" config/crd/bases/keda.sh_scaledobjects.yaml
