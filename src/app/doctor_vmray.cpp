// The VMRay rows: the console URL answers and accepts the key (system_info), the key may look up
// samples (the first call of every alert), and the key's quota, where the server reports one.
#include <fmt/format.h>

#include "app/doctor_context.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/vmray/client.hpp"
#include "core/hash.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

constexpr const char* kReachable = "vmray: URL and API key";
constexpr const char* kLookup = "vmray: sample lookup";
constexpr const char* kQuota = "vmray: API key quota";

constexpr const char* kKeyFix =
    "set VmrayAPIKey to an API key of the VMRay console (user menu > API keys) that belongs to "
    "the deployment named by VmrayBaseURL";

void SkipRest(DoctorContext& ctx, const std::string& why) {
  ctx.Emit(kLookup, CheckOutcome::kSkipped, why, "fix the row above first");
  ctx.Emit(kQuota, CheckOutcome::kSkipped, why, "fix the row above first");
}

}  // namespace

void CheckVmray(DoctorContext& ctx) {
  const auto& c = ctx.config();
  if (c.vmray.base_url.empty()) {
    ctx.Emit(kReachable, CheckOutcome::kSkipped, "vmray.base_url is not set",
             "set VmrayBaseURL and VmrayAPIKey to use VMRay");
    return SkipRest(ctx, "VMRay is not configured");
  }
  auto credential = std::make_shared<auth::ApiKeyCredential>(c.vmray.api_key);
  vmray::Client client(c.vmray.base_url, ctx.Pipeline(kVmrayUserAgent, credential));

  auto info = client.SystemInfo();
  if (info) {
    const std::string version = info->is_object() && (*info)["version"].is_string()
                                    ? (*info)["version"].get<std::string>()
                                    : "unknown version";
    ctx.Emit(kReachable, CheckOutcome::kOk,
             fmt::format("VMRay {} at {} accepted the key", version, client.base_url()));
  } else {
    const Error& e = info.error();
    if (e.code == ErrorCode::kPermissionDenied) {
      // VMRay answers system_info with 403 to keys without admin rights: the key authenticated.
      ctx.Emit(kReachable, CheckOutcome::kOk,
               fmt::format("{} accepted the key (system_info needs admin rights, which the "
                           "connector does not)",
                           client.base_url()));
    } else if (e.http_status == 0) {
      ctx.Emit(kReachable, CheckOutcome::kProblem,
               fmt::format("cannot reach VMRay at {}: {}", client.base_url(), e.message),
               "check VmrayBaseURL (the console URL, e.g. https://eu.cloud.vmray.com), "
               "http.proxy and that outbound HTTPS to it is allowed");
      return SkipRest(ctx, "VMRay is not reachable");
    } else if (e.code == ErrorCode::kUnauthenticated) {
      ctx.Emit(kReachable, CheckOutcome::kProblem,
               fmt::format("{} rejected the API key (HTTP 401)", client.base_url()), kKeyFix);
      return SkipRest(ctx, "the API key is not accepted");
    } else {
      ctx.Emit(kReachable, CheckOutcome::kProblem,
               fmt::format("{} answered HTTP {}: {}", client.base_url(), e.http_status, e.message),
               "check that VmrayBaseURL is the console URL of a VMRay deployment; retry later if "
               "VMRay reports maintenance");
      return SkipRest(ctx, "VMRay did not answer as expected");
    }
  }

  // The hash of the empty file: a lookup that is valid everywhere and changes nothing.
  auto samples = client.SamplesByHash(Sha256Hex(""));
  if (samples) {
    ctx.Emit(kLookup, CheckOutcome::kOk, "the key may look up samples by hash");
  } else {
    const Error& e = samples.error();
    ctx.Emit(
        kLookup, CheckOutcome::kProblem,
        fmt::format("looking up a sample by hash failed (HTTP {}): {}", e.http_status, e.message),
        e.code == ErrorCode::kPermissionDenied || e.code == ErrorCode::kUnauthenticated
            ? std::string(kKeyFix) + ", of a user allowed to view and submit samples"
            : "retry later; if it persists, ask VMRay support with the request id");
  }

  auto quota = client.Quota();
  if (quota) {
    if (quota->quota_limit == 0) {
      ctx.Emit(kQuota, CheckOutcome::kOk,
               fmt::format("no quota limit on this key ({} used)", quota->used_quota));
    } else if (quota->used_quota >= quota->quota_limit) {
      ctx.Emit(kQuota, CheckOutcome::kProblem,
               fmt::format("the quota is used up: {} of {}", quota->used_quota, quota->quota_limit),
               "new submissions will be refused: ask your VMRay contact for a larger quota or "
               "wait for the next quota period");
    } else {
      ctx.Emit(kQuota, CheckOutcome::kOk,
               fmt::format("{} of {} used", quota->used_quota, quota->quota_limit));
    }
  } else if (quota.error().code == ErrorCode::kNotFound) {
    ctx.Emit(kQuota, CheckOutcome::kSkipped,
             "this VMRay server does not report a key quota (/rest/api_key/quota answered 404)",
             "nothing to do; watch the quota in the VMRay console instead");
  } else {
    const Error& e = quota.error();
    ctx.Emit(kQuota, CheckOutcome::kProblem,
             fmt::format("reading the quota failed (HTTP {}): {}", e.http_status, e.message),
             "retry later; if it persists, ask VMRay support with the request id");
  }
}

}  // namespace vc::app
