#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite under AddressSanitizer +
# UndefinedBehaviorSanitizer (the asan-ubsan preset). CI (.ci/run) runs exactly this.
# Once, not twice: building the dev preset as well doubled CI to ~55 min on 2 cores, and the
# sanitized run checks everything the plain one does. For quick local iteration use
# `cmake --preset dev && cmake --build --preset dev && ctest --preset dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Blob client tests run against the real Azurite emulator (npm, project-local).
bash scripts/azurite.sh install
jobs=$(nproc)
for preset in asan-ubsan; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== $preset: test"
  ctest --preset "$preset" -j "$((jobs * 2))"
done
echo "== all tests passed (asan-ubsan)"
