#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite twice: the dev build, then the
# AddressSanitizer + UndefinedBehaviorSanitizer build. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Blob client tests run against the real Azurite emulator (npm, project-local).
bash scripts/azurite.sh install
jobs=$(nproc)
for preset in dev asan-ubsan; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== $preset: test"
  ctest --preset "$preset" -j "$((jobs * 2))"
done
echo "== all tests passed (dev and asan-ubsan)"
