#!/usr/bin/env bash
# Checks deploy/systemd/: `systemd-analyze verify` must print nothing at all (it reports unknown
# or misspelt directives only as warnings and still exits 0), `systemd-analyze security` must rate
# the unit's exposure at most 2.0, the sysusers entry must parse, and the directives the runbook
# relies on must be present with the right values. Exit 77 (skipped) without systemd-analyze.
#
# Usage: systemd_test.sh SOURCE_DIR
set -euo pipefail

source_dir=${1:?usage: systemd_test.sh SOURCE_DIR}
unit=$source_dir/deploy/systemd/vmray-connector.service
sysusers=$source_dir/deploy/systemd/vmray-connector.sysusers

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (scripts/setup.sh installs the systemd package)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# verify checks that ExecStart's program exists and is executable. The unit names the installed
# path; a copy points it at an executable stand-in so everything else in the file is verified as
# written.
mkdir -p "$tmp/bin" "$tmp/unit"
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/vmray-connector"
chmod 0755 "$tmp/bin/vmray-connector"
sed "s#^ExecStart=/usr/local/bin/vmray-connector #ExecStart=$tmp/bin/vmray-connector #" \
  "$unit" >"$tmp/unit/vmray-connector.service"
if ! grep -q "^ExecStart=$tmp/bin/vmray-connector " "$tmp/unit/vmray-connector.service"; then
  fail "ExecStart does not start with /usr/local/bin/vmray-connector"
fi

# Returns the verify output of a unit file (empty when clean).
verify() {
  systemd-analyze verify --man=no "$1" 2>&1 || echo "(systemd-analyze verify exited $?)"
}

out=$(verify "$tmp/unit/vmray-connector.service")
if [ -n "$out" ]; then
  fail "systemd-analyze verify reported:"
  echo "$out"
else
  echo "ok: systemd-analyze verify is clean"
fi

# The check above must be able to fail: a misspelt directive and a bad value are reported.
sed -e 's/^ProtectSystem=strict$/ProtectSystem=strictly/' -e 's/^PrivateTmp=yes$/PrivateTemp=yes/' \
  "$tmp/unit/vmray-connector.service" >"$tmp/broken.service"
out=$(verify "$tmp/broken.service")
if ! grep -q "strictly" <<<"$out" || ! grep -q "PrivateTemp" <<<"$out"; then
  fail "systemd-analyze verify did not report a broken copy of the unit: $out"
fi

# Exposure: 0 is fully locked down, 10 is unprotected; --threshold is in tenths.
if out=$(systemd-analyze security --offline=yes --threshold=20 \
  "$tmp/unit/vmray-connector.service" 2>&1); then
  echo "ok: $(grep -o 'Overall exposure level.*' <<<"$out")"
else
  fail "systemd-analyze security rates the unit above 2.0:"
  echo "$out" | grep -E '^✗|Overall' || echo "$out"
fi

# The values the runbook and the connector depend on. `systemd-analyze verify` accepts any valid
# unit, so these say which valid unit it has to be.
expect() {
  local line=$1
  if ! grep -qxF -- "$line" "$unit"; then fail "$unit lacks the line: $line"; fi
}
expect "Type=simple"
expect "User=vmray-connector"
expect "StateDirectory=vmray-connector"
expect "WorkingDirectory=/var/lib/vmray-connector"
expect "EnvironmentFile=-/etc/vmray-connector/env"
expect "ExecStart=/usr/local/bin/vmray-connector --config /etc/vmray-connector/vmray-connector.toml run"
expect "Restart=on-failure"
expect "RestartPreventExitStatus=2 3"
expect "NoNewPrivileges=yes"
expect "ProtectSystem=strict"
expect "ProtectHome=yes"
expect "PrivateTmp=yes"
expect "PrivateDevices=yes"
expect "ProtectKernelTunables=yes"
expect "ProtectKernelModules=yes"
expect "ProtectKernelLogs=yes"
expect "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"
expect "CapabilityBoundingSet="
expect "SystemCallFilter=@system-service"
expect "MemoryDenyWriteExecute=yes"
expect "LockPersonality=yes"

# RestartPreventExitStatus must name the connector's configuration and usage exit codes.
cli=$source_dir/src/app/cli.hpp
if [ -f "$cli" ]; then
  config_code=$(sed -n 's/.*kExitConfig = \([0-9]*\);.*/\1/p' "$cli")
  usage_code=$(sed -n 's/.*kExitUsage = \([0-9]*\);.*/\1/p' "$cli")
  if [ "$config_code $usage_code" != "2 3" ]; then
    fail "src/app/cli.hpp exit codes are now config=$config_code usage=$usage_code; update RestartPreventExitStatus"
  fi
fi

# The sysusers entry creates the unit's user.
if command -v systemd-sysusers >/dev/null 2>&1; then
  mkdir -p "$tmp/root/etc"
  if ! out=$(systemd-sysusers --root="$tmp/root" --dry-run "$sysusers" 2>&1); then
    fail "systemd-sysusers rejects $sysusers: $out"
  elif ! grep -q "Creating user 'vmray-connector'" <<<"$out"; then
    fail "systemd-sysusers would not create the vmray-connector user: $out"
  else
    echo "ok: systemd-sysusers creates the vmray-connector user"
  fi
fi

# The env example names only secrets the connector reads under their original names.
while read -r name; do
  if ! grep -q "original_name = \"$name\"" "$source_dir/src/config/schema.cpp"; then
    fail "env.example sets $name, which src/config/schema.cpp does not read"
  fi
done < <(sed -n 's/^\([A-Za-z_]*\)=.*/\1/p' "$source_dir/deploy/systemd/env.example")

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all systemd checks passed"
