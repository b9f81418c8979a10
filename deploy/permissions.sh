#!/usr/bin/env bash
# Grants the connector's app registration exactly the API application permissions that the
# enabled features need, then admin consent, with the Azure CLI (az login as a Global or
# Privileged Role Administrator first; the Sentinel role also needs Owner or User Access
# Administrator on the workspace). docs/runbook.md explains when each flag applies.
#
#   deploy/permissions.sh --client-id GUID [feature flags] [--dry-run]
#
# Feature flags (the connector setting that turns the feature on in brackets):
#   --fetch-quarantined-files  Library.Manage, to upload the collection script  [FetchQuarantinedFiles]
#   --indicators               Ti.ReadWrite.All, to create MDE indicators   [CreateIndicatorsInDefender]
#   --response-actions         Machine.Isolate, Machine.Scan, Machine.StopAndQuarantine and
#                              Machine.CollectForensics, for automated response actions
#                              [defender.response_actions.*]
#   --incident-updates         Graph SecurityIncident.ReadWrite.All, for incident tags and comments
#                              [AddTagsToIncident, AddCommentsToIncident]
#   --mail-read                Graph Mail.Read, to read the watched mailbox (mail attachments)
#   --mail-send                Graph Mail.Send, to send report mails through Graph
#   --ti-feed                  "Microsoft Sentinel Contributor" on --sentinel-workspace, for the
#                              Sentinel TI feed
#   --sentinel-workspace ID    resource id of the Log Analytics workspace with Microsoft Sentinel
#   --no-defender              the Defender alert job is off: skip its base permissions
#                              (Alert.ReadWrite.All, Machine.Read.All, Machine.LiveResponse)
#   --no-consent               add the permissions but leave admin consent to someone else
#   --dry-run                  print the az commands (a runnable script) instead of running them
#
# Exit codes: 0 done (or printed), 1 an az command failed, 2 bad arguments.
set -euo pipefail

readonly kDefenderApi="fc780465-2017-40d4-a0c5-307022471b92" # WindowsDefenderATP
readonly kGraphApi="00000003-0000-0000-c000-000000000000"    # Microsoft Graph
readonly kSentinelRole="Microsoft Sentinel Contributor"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

fail_usage() {
  echo "permissions.sh: $1" >&2
  echo "Run deploy/permissions.sh --help for the flags." >&2
  exit 2
}

client_id=""
workspace=""
defender=1
quarantine=0
indicators=0
response_actions=0
incidents=0
mail_read=0
mail_send=0
ti_feed=0
consent=1
dry_run=0

while (($#)); do
  case $1 in
    --client-id)
      (($# >= 2)) || fail_usage "--client-id needs the application (client) id"
      client_id=$2
      shift
      ;;
    --client-id=*) client_id=${1#*=} ;;
    --sentinel-workspace)
      (($# >= 2)) || fail_usage "--sentinel-workspace needs the workspace resource id"
      workspace=$2
      shift
      ;;
    --sentinel-workspace=*) workspace=${1#*=} ;;
    --fetch-quarantined-files) quarantine=1 ;;
    --indicators) indicators=1 ;;
    --response-actions) response_actions=1 ;;
    --incident-updates) incidents=1 ;;
    --mail-read) mail_read=1 ;;
    --mail-send) mail_send=1 ;;
    --ti-feed) ti_feed=1 ;;
    --no-defender) defender=0 ;;
    --no-consent) consent=0 ;;
    --dry-run) dry_run=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) fail_usage "unknown argument '$1'" ;;
  esac
  shift
done

# Strict formats: the values end up in commands (and, with --dry-run, in a printed script), so
# nothing but a GUID and a plain resource id is accepted.
readonly kGuid='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
readonly kWorkspaceId='^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-A-Za-z0-9._()]+/providers/Microsoft\.OperationalInsights/workspaces/[-A-Za-z0-9]+$'
[ -n "$client_id" ] || fail_usage "--client-id is required: the application (client) id of the connector's app registration (AzureClientID)"
[[ $client_id =~ $kGuid ]] || fail_usage "--client-id must be a GUID such as 00000000-0000-0000-0000-000000000000 (the application id, not the object id or the name)"
if ((ti_feed)) && [ -z "$workspace" ]; then
  fail_usage "--ti-feed needs --sentinel-workspace /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>"
fi
if [ -n "$workspace" ]; then
  ((ti_feed)) || fail_usage "--sentinel-workspace is only used with --ti-feed"
  [[ $workspace =~ $kWorkspaceId ]] || fail_usage "--sentinel-workspace must be a workspace resource id: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name> (Log Analytics workspace > Properties > Resource ID)"
fi

# What the features need, as "api permission" pairs.
grants=()
if ((defender)); then
  grants+=("$kDefenderApi Alert.ReadWrite.All" "$kDefenderApi Machine.Read.All"
    "$kDefenderApi Machine.LiveResponse")
fi
((quarantine)) && grants+=("$kDefenderApi Library.Manage")
((indicators)) && grants+=("$kDefenderApi Ti.ReadWrite.All")
if ((response_actions)); then
  grants+=("$kDefenderApi Machine.Isolate" "$kDefenderApi Machine.Scan"
    "$kDefenderApi Machine.StopAndQuarantine" "$kDefenderApi Machine.CollectForensics")
fi
((incidents)) && grants+=("$kGraphApi SecurityIncident.ReadWrite.All")
((mail_read)) && grants+=("$kGraphApi Mail.Read")
((mail_send)) && grants+=("$kGraphApi Mail.Send")
if ((${#grants[@]} == 0 && ti_feed == 0)); then
  fail_usage "nothing to grant: --no-defender without any feature flag"
fi
if ((!defender)) && ((quarantine || indicators || response_actions)); then
  fail_usage "--fetch-quarantined-files, --indicators and --response-actions are parts of the Defender alert job; drop --no-defender"
fi

# Quotes one argument for the printed script: bare when safe, else in double quotes. The role
# lookups from role_id are printed as they are: their $( ) is meant to run when the printed
# script runs, and they hold only this script's constants and the validated inputs.
show_arg() {
  # shellcheck disable=SC2016 # a literal prefix, not an expansion
  if [[ $1 == '$(az ad sp show '* ]]; then
    printf '"%s"' "$1"
  elif [[ $1 =~ ^[-A-Za-z0-9_./:=@,+]+$ ]]; then
    printf '%s' "$1"
  else
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//\`/\\\`}
    printf '"%s"' "$s"
  fi
}

# Runs a command, or prints it with --dry-run.
run() {
  if ((dry_run)); then
    local first=1 arg
    for arg in "$@"; do
      ((first)) || printf ' '
      first=0
      show_arg "$arg"
    done
    printf '\n'
  else
    "$@"
  fi
}

note() {
  if ((dry_run)); then echo "# $*"; else echo "permissions.sh: $*" >&2; fi
}

role_query() {
  printf "appRoles[?value=='%s' && contains(allowedMemberTypes, 'Application')].id | [0]" "$1"
}

# The id of an application permission of an API, looked up in the tenant (ids are the same in
# every tenant, but looking them up cannot go stale and proves the API's service principal
# exists). With --dry-run, a command substitution that does the lookup when the script runs.
role_id() {
  local api=$1 permission=$2
  if ((dry_run)); then
    # shellcheck disable=SC2016 # printed, not expanded: the lookup runs in the printed script
    printf '$(az ad sp show --id %s --query "%s" --output tsv)' "$api" "$(role_query "$permission")"
    return
  fi
  local id
  if ! id=$(az ad sp show --id "$api" --query "$(role_query "$permission")" --output tsv); then
    echo "permissions.sh: cannot read the service principal of API $api; is 'az login' done for this tenant?" >&2
    exit 1
  fi
  if [ -z "$id" ] || [ "$id" = "None" ]; then
    echo "permissions.sh: API $api has no application permission '$permission' in this tenant (is the product licensed?)" >&2
    exit 1
  fi
  printf '%s' "$id"
}

if ((!dry_run)) && ! command -v az >/dev/null 2>&1; then
  echo "permissions.sh: the Azure CLI (az) is not installed; see https://learn.microsoft.com/cli/azure/install-azure-cli, or use --dry-run to see the commands" >&2
  exit 1
fi

if ((dry_run)); then
  echo "#!/usr/bin/env bash"
  echo "# Printed by deploy/permissions.sh --dry-run; run it after 'az login'."
  echo "set -euo pipefail"
fi

for grant in "${grants[@]}"; do
  api=${grant%% *}
  permission=${grant#* }
  note "application permission $permission"
  # An assignment of its own, so that a failed lookup stops the script (set -e).
  id=$(role_id "$api" "$permission")
  run az ad app permission add --id "$client_id" --api "$api" --api-permissions "$id=Role"
done

if ((${#grants[@]})); then
  if ((consent)); then
    note "admin consent for the permissions above"
    run az ad app permission admin-consent --id "$client_id"
  else
    note "admin consent left out (--no-consent): an administrator must grant it in Entra ID > App registrations > API permissions"
  fi
fi

if ((ti_feed)); then
  note "role $kSentinelRole on the Sentinel workspace, for the TI upload"
  run az role assignment create --assignee "$client_id" --role "$kSentinelRole" \
    --scope "$workspace"
fi
