#include "clients/defender/response_actions.hpp"

#include <fmt/format.h>

#include <cctype>

#include "http/curl_transport.hpp"

namespace vc::mde {
namespace {

struct Spec {
  ResponseAction action;
  std::string_view name;
  std::string_view type;
  std::string_view permission;
  std::string_view verb;
  std::string_view path;       // after /api/machines/{id}/
  std::string_view operation;  // rate limiter and metrics name
};

// Paths and body names as the MDE API pages spell them (isolate-machine, run-av-scan,
// stop-and-quarantine-file, collect-investigation-package).
constexpr Spec kSpecs[] = {
    {ResponseAction::kCollectInvestigationPackage, "investigation_package",
     "CollectInvestigationPackage", "Machine.CollectForensics",
     "collect an investigation package from", "collectInvestigationPackage",
     "machines.collectpackage"},
    {ResponseAction::kAntivirusScan, "antivirus_scan", "RunAntiVirusScan", "Machine.Scan",
     "run an antivirus scan on", "runAntiVirusScan", "machines.scan"},
    {ResponseAction::kStopAndQuarantineFile, "stop_and_quarantine", "StopAndQuarantineFile",
     "Machine.StopAndQuarantine", "stop and quarantine the file on", "StopAndQuarantineFile",
     "machines.stopandquarantine"},
    {ResponseAction::kIsolate, "isolate", "Isolate", "Machine.Isolate", "isolate", "isolate",
     "machines.isolate"},
};

const Spec& SpecOf(ResponseAction action) {
  for (const auto& s : kSpecs) {
    if (s.action == action) return s;
  }
  return kSpecs[0];
}

bool IsSha1(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Status Check(const ResponseActionRequest& r) {
  if (r.machine_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "no device id");
  if (r.comment.empty())
    return MakeError(ErrorCode::kInvalidArgument, "MDE requires a comment on every action");
  if (r.action == ResponseAction::kIsolate && r.scope != "Full" && r.scope != "Selective")
    return MakeError(ErrorCode::kInvalidArgument,
                     "IsolationType must be Full or Selective, not '" + r.scope + "'");
  if (r.action == ResponseAction::kAntivirusScan && r.scope != "Full" && r.scope != "Quick")
    return MakeError(ErrorCode::kInvalidArgument,
                     "ScanType must be Full or Quick, not '" + r.scope + "'");
  if (r.action == ResponseAction::kStopAndQuarantineFile && !IsSha1(r.sha1))
    return MakeError(ErrorCode::kInvalidArgument,
                     "stop and quarantine needs the file's SHA-1 (40 hex digits); the alert's "
                     "evidence has none");
  return Ok();
}

}  // namespace

std::string_view ResponseActionName(ResponseAction action) {
  return SpecOf(action).name;
}

std::optional<ResponseAction> ResponseActionFromName(std::string_view name) {
  for (const auto& s : kSpecs) {
    if (s.name == name) return s.action;
  }
  return std::nullopt;
}

std::string_view MachineActionType(ResponseAction action) {
  return SpecOf(action).type;
}

std::string_view ResponseActionPermission(ResponseAction action) {
  return SpecOf(action).permission;
}

std::string_view ResponseActionVerb(ResponseAction action) {
  return SpecOf(action).verb;
}

Json ResponseActionBody(const ResponseActionRequest& r) {
  Json body{{"Comment", r.comment}};
  switch (r.action) {
    case ResponseAction::kIsolate:
      body["IsolationType"] = r.scope;
      break;
    case ResponseAction::kAntivirusScan:
      body["ScanType"] = r.scope;
      break;
    case ResponseAction::kStopAndQuarantineFile:
      body["Sha1"] = r.sha1;
      break;
    case ResponseAction::kCollectInvestigationPackage:
      break;
  }
  return body;
}

Result<MachineAction> ResponseActionApi::Request(const ResponseActionRequest& request) {
  if (auto ok = Check(request); !ok) {
    Error e = ok.error();
    e.service = "mde";
    e.message = fmt::format("cannot {} device {}: {}", ResponseActionVerb(request.action),
                            request.machine_id, e.message);
    return e;
  }
  const Spec& spec = SpecOf(request.action);
  http::Request r = client_.Make(
      http::Method::kPost,
      fmt::format("/api/machines/{}/{}", http::UrlEncode(request.machine_id), spec.path),
      std::string(spec.operation));
  r.headers.Set("Content-Type", "application/json");
  r.body = ResponseActionBody(request).dump();
  // Not idempotent: a retried POST could start a second action. The outbox handler looks for
  // its own earlier action before it asks again.
  auto body = client_.Call(std::move(r), fmt::format("{} device {} (permission {})", spec.verb,
                                                     request.machine_id, spec.permission));
  if (!body) return body.error();
  return ParseMachineAction(*body, "machineaction");
}

}  // namespace vc::mde
