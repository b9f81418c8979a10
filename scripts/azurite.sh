#!/usr/bin/env bash
# Azurite, the Azure Storage emulator, for the tests and the demo (the Blob client talks to it
# instead of a real storage account). The npm package is installed into the project-local folder
# .local/azurite (ignored by git) with the machine's node/npm, which scripts/setup.sh installs.
#
#   scripts/azurite.sh install   install the pinned version unless it is already there
#   scripts/azurite.sh path      print the azurite-blob executable (exit 1 when not installed)
set -euo pipefail

# Pinned: 3.36 and later need node >= 21, and Debian 12 ships node 18.
version="3.35.0"
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.local/azurite"
bin="$prefix/node_modules/.bin/azurite-blob"

installed_version() {
  local manifest="$prefix/node_modules/azurite/package.json"
  [ -f "$manifest" ] || return 0
  node -e 'process.stdout.write(require(process.argv[1]).version)' "$manifest" 2>/dev/null || true
}

case "${1:-}" in
  install)
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
      echo "azurite: node and npm are needed; run scripts/setup.sh first" >&2
      exit 1
    fi
    mkdir -p "$prefix"
    # Two builds installing at once must not interleave inside one node_modules.
    exec 9>"$prefix/.install.lock"
    flock 9
    if [ "$(installed_version)" = "$version" ] && [ -x "$bin" ]; then
      echo "azurite: $version present"
      exit 0
    fi
    echo "azurite: installing azurite@$version into $prefix"
    # A package.json of our own keeps npm from walking up into another project's manifest.
    [ -f "$prefix/package.json" ] ||
      printf '{ "name": "vc-azurite", "private": true }\n' >"$prefix/package.json"
    npm install --prefix "$prefix" --no-audit --no-fund --omit=dev --loglevel=error \
      --save-exact "azurite@$version" >/dev/null
    if [ ! -x "$bin" ]; then
      echo "azurite: install finished but $bin is missing" >&2
      exit 1
    fi
    echo "azurite: $version installed"
    ;;
  path)
    if [ ! -x "$bin" ]; then
      echo "azurite: not installed; run scripts/azurite.sh install" >&2
      exit 1
    fi
    echo "$bin"
    ;;
  *)
    echo "usage: scripts/azurite.sh install|path" >&2
    exit 2
    ;;
esac
