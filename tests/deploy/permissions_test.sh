#!/usr/bin/env bash
# Checks deploy/permissions.sh: shellcheck (when installed), the --dry-run output against golden
# files for several feature combinations, that the printed script and a real run issue the same
# az calls (against a fake az that records them), and that bad arguments are refused with a
# clear message before any az call. VC_UPDATE_GOLDEN=1 rewrites the golden files.
#
# Usage: permissions_test.sh SOURCE_DIR
set -euo pipefail

source_dir=${1:?usage: permissions_test.sh SOURCE_DIR}
script=$source_dir/deploy/permissions.sh
golden_dir=$source_dir/tests/deploy/golden
client=11111111-2222-3333-4444-555555555555
workspace=/subscriptions/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces/sentinel-ws

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

if command -v shellcheck >/dev/null 2>&1; then
  if shellcheck "$script" "$0"; then echo "ok: shellcheck"; else fail "shellcheck"; fi
else
  echo "note: shellcheck is not installed (scripts/setup.sh installs it); skipping that part"
fi

# A fake az that records each call (one line, arguments quoted) and answers role lookups with an
# id made from the permission's name; AZ_MISSING names a permission the tenant lacks.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/az" <<'FAKE'
#!/usr/bin/env bash
printf '%q ' "$@" >>"$AZ_LOG"
printf '\n' >>"$AZ_LOG"
if [ "$1 $2 $3" = "ad sp show" ]; then
  for arg in "$@"; do
    if [[ $arg =~ value==\'([^\']+)\' ]]; then
      [ "${BASH_REMATCH[1]}" = "${AZ_MISSING:-}" ] && exit 0
      echo "role-${BASH_REMATCH[1]}"
    fi
  done
fi
FAKE
chmod +x "$tmp/bin/az"

# name|flags
cases=(
  "defender-base|"
  "defender-all|--fetch-quarantined-files --indicators --incident-updates"
  "response-actions|--response-actions"
  "everything|--fetch-quarantined-files --indicators --incident-updates --mail-read --mail-send --ti-feed --sentinel-workspace $workspace"
  "ti-feed-only|--no-defender --ti-feed --sentinel-workspace $workspace"
  "mail-no-consent|--no-defender --mail-read --mail-send --no-consent"
)
for entry in "${cases[@]}"; do
  name=${entry%%|*}
  read -r -a flags <<<"${entry#*|}"
  golden=$golden_dir/permissions_$name.txt
  if ! "$script" --client-id "$client" "${flags[@]}" --dry-run >"$tmp/$name.txt" 2>"$tmp/$name.err"; then
    fail "$name: --dry-run failed: $(cat "$tmp/$name.err")"
    continue
  fi
  if [ "${VC_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$tmp/$name.txt" "$golden"
    echo "updated $golden"
  elif ! diff -u "$golden" "$tmp/$name.txt"; then
    fail "$name: --dry-run output differs from $golden (VC_UPDATE_GOLDEN=1 rewrites it)"
  fi
  # The printed script runs, and issues exactly the calls a real run issues.
  if ! AZ_LOG=$tmp/$name.printed.log PATH="$tmp/bin:$PATH" bash "$tmp/$name.txt" >/dev/null; then
    fail "$name: the printed script failed"
  fi
  if ! AZ_LOG=$tmp/$name.real.log PATH="$tmp/bin:$PATH" "$script" --client-id "$client" "${flags[@]}" 2>/dev/null; then
    fail "$name: the real run against the fake az failed"
  fi
  if ! diff -u "$tmp/$name.real.log" "$tmp/$name.printed.log"; then
    fail "$name: the printed script and a real run make different az calls"
  fi
done

# What each combination grants (read from the recorded real calls).
granted() { { grep -o -- "--api-permissions role-[A-Za-z.]*" "$tmp/$1.real.log" || true; } | sed 's/.*role-//' | tr '\n' ' '; }
expect_grants() {
  local got
  got=$(granted "$1")
  [ "$got" = "$2" ] || fail "$1 grants '$got', expected '$2'"
}
expect_grants defender-base "Alert.ReadWrite.All Machine.Read.All Machine.LiveResponse "
expect_grants defender-all "Alert.ReadWrite.All Machine.Read.All Machine.LiveResponse Library.Manage Ti.ReadWrite.All SecurityIncident.ReadWrite.All "
expect_grants ti-feed-only ""
expect_grants mail-no-consent "Mail.Read Mail.Send "
grep -q "admin-consent --id $client" "$tmp/defender-base.real.log" || fail "defender-base: no admin consent"
if grep -q "admin-consent" "$tmp/mail-no-consent.real.log"; then fail "--no-consent still consented"; fi
grep -qxF "role assignment create --assignee $client --role Microsoft\\ Sentinel\\ Contributor --scope $workspace " \
  "$tmp/ti-feed-only.real.log" || fail "ti-feed-only: no Sentinel Contributor role assignment: $(cat "$tmp/ti-feed-only.real.log")"
if grep -q "role assignment" "$tmp/defender-all.real.log"; then fail "defender-all assigned a Sentinel role"; fi

# Bad arguments: exit 2, a message saying what to do, and no az call at all.
expect_refused() {
  local want=$1
  shift
  local log=$tmp/refused.log
  : >"$log"
  local status=0 err
  err=$(AZ_LOG=$log PATH="$tmp/bin:$PATH" "$script" "$@" 2>&1 >/dev/null) || status=$?
  [ "$status" = 2 ] || fail "'$*' exited $status, expected 2"
  grep -qF -- "$want" <<<"$err" || fail "'$*' said '$err', expected it to mention '$want'"
  [ ! -s "$log" ] || fail "'$*' called az: $(cat "$log")"
}
expect_refused "--client-id is required"
expect_refused "must be a GUID" --client-id vmray-connector-app
expect_refused "must be a GUID" --client-id "$client; rm -rf /"
expect_refused "--ti-feed needs --sentinel-workspace" --client-id "$client" --ti-feed
# shellcheck disable=SC2016 # the $( ) must reach the script unexpanded
expect_refused "must be a workspace resource id" --client-id "$client" --ti-feed --sentinel-workspace '/subscriptions/$(id)/x'
expect_refused "unknown argument '--indicator'" --client-id "$client" --indicator
expect_refused "nothing to grant" --client-id "$client" --no-defender
expect_refused "drop --no-defender" --client-id "$client" --no-defender --indicators

# A permission the tenant does not offer stops the run before anything is added.
: >"$tmp/missing.log"
status=0
err=$(AZ_LOG=$tmp/missing.log AZ_MISSING=Machine.Read.All PATH="$tmp/bin:$PATH" "$script" --client-id "$client" 2>&1) || status=$?
[ "$status" = 1 ] || fail "a missing permission exited $status, expected 1"
grep -q "has no application permission 'Machine.Read.All'" <<<"$err" || fail "missing permission message: $err"
if grep -q "admin-consent\|role-Machine.Read.All" "$tmp/missing.log"; then
  fail "the run went on after a failed lookup: $(cat "$tmp/missing.log")"
fi

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all permissions.sh checks passed"
