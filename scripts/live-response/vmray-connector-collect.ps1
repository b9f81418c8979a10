<#
.SYNOPSIS
  vmray-connector: hand one file that Microsoft Defender Antivirus quarantined to the connector.

.DESCRIPTION
  Run on the device by Microsoft Defender for Endpoint Live Response (RunScript, as SYSTEM,
  Windows PowerShell 5.1) on behalf of vmray-connector, which uploads it to the Live Response
  library. The connector checks what arrives (size and SHA-256) and deletes the blob after use.

  Input: exactly one argument, the base64 of a UTF-8 JSON request. Nothing from an alert is ever
  parsed as PowerShell: the argument can only contain base64 characters, and every value is used
  as data (a parameter value, never part of a command line or a script).
    { "v": 1,
      "mode": "restore" | "encrypted",
      "threat": "<threat name as Defender reported it, may be empty>",
      "sha256": ["<64 hex>", ...],      # restore: the files to hand over
      "sha1": "<40 hex>",               # encrypted: names the quarantine resource file
      "upload_url": "https://<account>.blob.core.windows.net/<container>/<blob>?<SAS>",
      "max_bytes": <int>,
      "request_id": "<opaque id echoed in the output>" }

  Modes:
    restore    MpCmdRun restores the items of that threat into a private folder (ACL: SYSTEM and
               Administrators only) that is excluded from scanning while it exists; the file whose
               SHA-256 matches is uploaded. The exclusion and the folder are removed on every path.
    encrypted  The still-encrypted quarantine resource file is uploaded as it is; nothing is
               restored to disk and no exclusion is needed. The connector decrypts it.

  Output: exactly one JSON line on standard output:
    {"v":1,"request_id":"...","outcome":"...","detail":"...","sha256":"...","size":N}
  outcome is one of: collected, collected_encrypted, not_in_quarantine, hash_mismatch,
  too_large, upload_failed, exclusion_blocked, restore_failed, defender_missing, bad_request.
  The upload URL (it carries a SAS) and the threat name are never written anywhere.
#>
param(
  [Parameter(Mandatory = $true, Position = 0)]
  [string]$Request
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$script:RequestId = ''

function Write-Outcome {
  param([string]$Outcome, [string]$Detail, [string]$Sha256 = '', [long]$Size = 0)
  $line = [ordered]@{
    v          = 1
    request_id = $script:RequestId
    outcome    = $Outcome
    detail     = $Detail
    sha256     = $Sha256
    size       = $Size
  }
  [Console]::Out.WriteLine(($line | ConvertTo-Json -Compress))
  exit 0
}

function Send-File {
  param([string]$Path, [string]$Url)
  [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
  $headers = @{ 'x-ms-blob-type' = 'BlockBlob' }
  try {
    Invoke-WebRequest -UseBasicParsing -Method Put -Uri $Url -InFile $Path `
      -ContentType 'application/octet-stream' -Headers $headers -TimeoutSec 600 | Out-Null
    return ''
  } catch {
    # Only the status code: exception texts can contain the URL, and with it the SAS.
    $status = 0
    if ($_.Exception.Response) { $status = [int]$_.Exception.Response.StatusCode }
    if ($status -gt 0) { return "the storage account answered HTTP $status" }
    return 'the storage account could not be reached'
  }
}

# ---- read and check the request ------------------------------------------------------------

if ($Request.Length -gt 16384 -or $Request -cnotmatch '^[A-Za-z0-9+/]+={0,2}$') {
  Write-Outcome 'bad_request' 'the argument is not a base64 request'
}
try {
  $json = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Request))
  $req = $json | ConvertFrom-Json
} catch {
  Write-Outcome 'bad_request' 'the argument does not decode to a JSON request'
}
if ($req.request_id -is [string] -and $req.request_id -cmatch '^[A-Za-z0-9-]{1,64}$') {
  $script:RequestId = $req.request_id
}
if ($req.v -ne 1) { Write-Outcome 'bad_request' 'unsupported request version' }
$mode = [string]$req.mode
if ($mode -cne 'restore' -and $mode -cne 'encrypted') { Write-Outcome 'bad_request' 'unknown mode' }
$url = [string]$req.upload_url
if ($url -cnotmatch '^https://[A-Za-z0-9.-]+(:[0-9]+)?/[^\s]+$') {
  Write-Outcome 'bad_request' 'the upload URL is not an https URL'
}
$maxBytes = [long]$req.max_bytes
if ($maxBytes -le 0) { Write-Outcome 'bad_request' 'max_bytes must be positive' }

# ---- encrypted: hand over the quarantine resource file as it is ------------------------------

if ($mode -ceq 'encrypted') {
  $sha1 = ([string]$req.sha1).ToUpperInvariant()
  if ($sha1 -cnotmatch '^[0-9A-F]{40}$') { Write-Outcome 'bad_request' 'sha1 must be 40 hex digits' }
  $store = Join-Path $env:ProgramData 'Microsoft\Windows Defender\Quarantine\ResourceData'
  $resource = Join-Path (Join-Path $store $sha1.Substring(0, 2)) $sha1
  if (-not (Test-Path -LiteralPath $resource -PathType Leaf)) {
    Write-Outcome 'not_in_quarantine' 'no quarantine resource file for this SHA-1'
  }
  $size = (Get-Item -LiteralPath $resource).Length
  if ($size -gt $maxBytes) { Write-Outcome 'too_large' 'the quarantine resource file is larger than allowed' '' $size }
  $failure = Send-File -Path $resource -Url $url
  if ($failure) { Write-Outcome 'upload_failed' $failure '' $size }
  Write-Outcome 'collected_encrypted' 'uploaded the encrypted quarantine resource file' '' $size
}

# ---- restore: restore into a private, excluded folder and hand over the matching file --------

$wanted = @()
foreach ($h in @($req.sha256)) {
  $s = ([string]$h).ToLowerInvariant()
  if ($s -cnotmatch '^[0-9a-f]{64}$') { Write-Outcome 'bad_request' 'sha256 entries must be 64 hex digits' }
  $wanted += $s
}
if ($wanted.Count -eq 0) { Write-Outcome 'bad_request' 'no sha256 given' }
$threat = [string]$req.threat
if ($threat.Length -gt 512) { Write-Outcome 'bad_request' 'threat name too long' }

$mpcmdrun = Join-Path $env:ProgramFiles 'Windows Defender\MpCmdRun.exe'
if (-not (Test-Path -LiteralPath $mpcmdrun -PathType Leaf)) {
  Write-Outcome 'defender_missing' 'MpCmdRun.exe was not found'
}

$dir = Join-Path (Join-Path $env:ProgramData 'VMRayConnector') ([guid]::NewGuid().ToString('N'))
$result = $null
try {
  New-Item -ItemType Directory -Path $dir -Force | Out-Null
  # Only SYSTEM and Administrators may see what is restored here.
  $acl = New-Object Security.AccessControl.DirectorySecurity
  $acl.SetAccessRuleProtection($true, $false)
  foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
    $who = New-Object Security.Principal.SecurityIdentifier($sid)
    $rule = New-Object Security.AccessControl.FileSystemAccessRule($who, 'FullControl',
      'ContainerInherit,ObjectInherit', 'None', 'Allow')
    $acl.AddAccessRule($rule)
  }
  Set-Acl -LiteralPath $dir -AclObject $acl

  Add-MpPreference -ExclusionPath $dir
  $excluded = $false
  for ($i = 0; $i -lt 10 -and -not $excluded; $i++) {
    $excluded = @((Get-MpPreference).ExclusionPath) -contains $dir
    if (-not $excluded) { Start-Sleep -Seconds 2 }
  }
  if (-not $excluded) {
    $result = @('exclusion_blocked', 'a policy keeps the temporary Defender exclusion from applying (tamper protection, Intune local admin merge)')
  } else {
    if ($threat) {
      & $mpcmdrun -Restore -Name $threat -All -Path $dir | Out-Null
    } else {
      & $mpcmdrun -Restore -All -Path $dir | Out-Null
    }
    $restored = @(Get-ChildItem -LiteralPath $dir -File -Recurse -Force)
    if ($restored.Count -eq 0) {
      $result = @('not_in_quarantine', 'Defender restored nothing for this threat (not quarantined yet, or removed)')
    } else {
      $result = @('hash_mismatch', "restored $($restored.Count) item(s), none with the expected SHA-256")
      foreach ($f in $restored) {
        $sha = (Get-FileHash -LiteralPath $f.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
        if ($wanted -notcontains $sha) { continue }
        if ($f.Length -gt $maxBytes) {
          $result = @('too_large', 'the restored file is larger than allowed', $sha, $f.Length)
          break
        }
        $failure = Send-File -Path $f.FullName -Url $url
        if ($failure) {
          $result = @('upload_failed', $failure, $sha, $f.Length)
        } else {
          $result = @('collected', 'restored and uploaded the file', $sha, $f.Length)
        }
        break
      }
    }
  }
} catch {
  $result = @('restore_failed', 'restoring from quarantine failed on the device')
} finally {
  # Always, on every path: take the exclusion away and remove what was restored.
  Remove-MpPreference -ExclusionPath $dir -ErrorAction SilentlyContinue
  Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
}
if ($result.Count -ge 4) { Write-Outcome $result[0] $result[1] $result[2] $result[3] }
Write-Outcome $result[0] $result[1]
