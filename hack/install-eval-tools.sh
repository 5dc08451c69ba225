#!/usr/bin/env bash
# Installs the eval tools whose results files `airlock evals import` reads, so the tests can run them for
# real: Inspect AI (PyPI, in its own virtualenv) and promptfoo (npm). Each goes into a cache directory
# keyed by its version, outside the repository; a tool that already reports the pinned version is not
# installed again. Prints the directory holding `inspect` and `promptfoo` on its last line; progress goes
# to stderr. Needs python3 (3.10+), node 20 and npm, and a C++ compiler for promptfoo's SQLite module.
#
#   hack/install-eval-tools.sh             install what is missing, print the bin directory
#   AIRLOCK_CACHE_DIR=/somewhere hack/...  use another cache root (default ~/.cache/airlock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
: "${INSPECT_AI_VERSION:?INSPECT_AI_VERSION is missing from hack/versions.env}"
: "${PROMPTFOO_VERSION:?PROMPTFOO_VERSION is missing from hack/versions.env}"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}
inspect_out=$cache/inspect-ai-$INSPECT_AI_VERSION
promptfoo_out=$cache/promptfoo-$PROMPTFOO_VERSION
bin=$cache/bin/eval-tools-inspect-ai-$INSPECT_AI_VERSION-promptfoo-$PROMPTFOO_VERSION

log() { printf '[eval-tools %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# One build at a time: a second caller (another checkout, a parallel `make`) waits for the first,
# then finds what it built instead of compiling the same thing beside it.
mkdir -p "$cache"
exec 9>"$cache/.lock-eval-tools"
flock -n 9 || { log "another run of this script holds $cache/.lock-eval-tools; waiting for it"; flock 9; }
need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "error: '$1' is required to install the eval tools the tests run; install it and run again" >&2
    exit 2
  }
}
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# Neither tool may prompt or phone home while it is installed or run by a test.
export CI=${CI:-true} PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PIP_NO_INPUT=1
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

install_inspect() {
  local have=""
  [ -x "$inspect_out/bin/python" ] &&
    have=$("$inspect_out/bin/python" -c 'import importlib.metadata as m; print(m.version("inspect-ai"))' \
      2>/dev/null || true)
  if [ "$have" = "$INSPECT_AI_VERSION" ]; then
    log "inspect-ai $INSPECT_AI_VERSION already installed in $inspect_out"
    return
  fi
  need python3
  local start
  start=$(date +%s)
  log "installing inspect-ai $INSPECT_AI_VERSION into its own virtualenv"
  rm -rf "$inspect_out"
  python3 -m venv "$inspect_out"
  "$inspect_out/bin/python" -m pip install --quiet --disable-pip-version-check "inspect-ai==$INSPECT_AI_VERSION"
  log "inspect-ai installed in $(elapsed "$start")"
}

install_promptfoo() {
  # Read the installed version from its package.json (starting promptfoo takes seconds), and require the
  # SQLite module built here, without which promptfoo cannot run.
  local have=""
  [ -x "$promptfoo_out/node_modules/.bin/promptfoo" ] &&
    [ -f "$promptfoo_out/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ] &&
    have=$(node -p "require('$promptfoo_out/node_modules/promptfoo/package.json').version" 2>/dev/null || true)
  if [ "$have" = "$PROMPTFOO_VERSION" ]; then
    log "promptfoo $PROMPTFOO_VERSION already installed in $promptfoo_out"
    return
  fi
  need node
  need npm
  local start
  start=$(date +%s)
  log "installing promptfoo $PROMPTFOO_VERSION (cold: a few minutes; its SQLite module is compiled)"
  rm -rf "$promptfoo_out"
  mkdir -p "$promptfoo_out/home"
  (
    cd "$promptfoo_out"
    echo '{"name": "airlock-eval-tools", "private": true}' >package.json
    # Install scripts would download a browser and prebuilt binaries, which is neither wanted nor possible
    # offline; the one native module promptfoo needs is built from source against the local Node headers.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
      "promptfoo@$PROMPTFOO_VERSION" >&2
    npm rebuild better-sqlite3 --build-from-source --nodedir="$(dirname "$(dirname "$(command -v node)")")" \
      --loglevel=error >&2
  )
  log "promptfoo installed in $(elapsed "$start")"
}

install_inspect
install_promptfoo

mkdir -p "$bin"
ln -sfn "$inspect_out/bin/inspect" "$bin/inspect"
ln -sfn "$promptfoo_out/node_modules/.bin/promptfoo" "$bin/promptfoo"
echo "$bin"
