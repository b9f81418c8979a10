#!/usr/bin/env bash
# Installs what is missing, builds vmray-connector (release preset) and runs the demo: the full
# Defender alert -> VMRay verdict -> alert comment path against the bundled emulators, with no
# cloud account. Exits 0 when every demo alert reached its expected outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Azurite stands in for the storage account of the quarantine hand-off (npm, project-local).
bash scripts/azurite.sh install
cmake --preset release >/dev/null
cmake --build --preset release --target vmray-connector vmray-emulators
# The demo hands the quarantined file of its antivirus alert over through this Azurite.
VC_AZURITE_BLOB="$(bash scripts/azurite.sh path)" exec ./build/release/src/app/vmray-connector demo "$@"
