#!/usr/bin/env bash
# Installs what vmray-connector needs to build and test on Debian 12, and nothing else.
# Idempotent: packages already present are skipped, and apt-get update runs only when
# something is missing. Runs as root, or through sudo when it is available.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates openssl
  libcurl4-openssl-dev libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libssl-dev
  zlib1g-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  lld # links the sanitized test executables three times faster than GNU ld (CI time)
  # Tests: headless Chromium for the status page, systemd-analyze for the unit file.
  chromium systemd
  shellcheck # lints deploy/permissions.sh and the tests/deploy scripts
  python3-aiosmtpd # a real SMTP server for the mail client tests
)
# Node.js runs Azurite (the Azure Storage emulator) in tests and the demo; a machine that has
# node and npm from elsewhere (NodeSource) keeps them.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all build packages present"
fi
