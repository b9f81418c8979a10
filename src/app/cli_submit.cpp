// `submit <file|url>`: one submission to VMRay with the configured key and the same analysis
// settings the connector uses, printing the submission, the sample and its report link.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/cli_support.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/vmray/client.hpp"
#include "core/random.hpp"
#include "core/redact.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

bool IsUrl(const std::string& target) {
  return target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0;
}

std::shared_ptr<http::Pipeline> VmrayPipeline(const config::Config& c, Clock& clock) {
  http::TransportOptions t;
  t.proxy = c.http.proxy;
  t.ca_file = c.http.ca_file;
  t.verify_tls = !c.http.insecure_skip_tls_verify;
  t.connect_timeout = Millis(c.http.connect_timeout_seconds * 1000LL);
  t.request_timeout = Millis(c.http.request_timeout_seconds * 1000LL);
  http::ServicePipelineOptions o;
  o.user_agent = std::string(kVmrayUserAgent);
  o.retry.max_retries = c.vmray.api_max_retry;
  o.retry.total_budget = Millis(c.vmray.api_retry_timeout_minutes * 60'000LL);
  o.credential = std::make_shared<auth::ApiKeyCredential>(c.vmray.api_key);
  return http::MakeServicePipeline(o, std::make_shared<http::CurlTransport>(t), clock,
                                   DefaultRandom());
}

}  // namespace

int SubmitCommand(const CommandContext& ctx, const std::string& target) {
  QuietLogging();
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  const auto& c = *config;
  if (c.vmray.base_url.empty() || c.vmray.api_key.empty()) {
    ctx.err << "vmray-connector: set VmrayBaseURL and VmrayAPIKey (vmray.base_url, vmray.api_key) "
               "to submit to VMRay\n";
    return kExitConfig;
  }

  vmray::SubmitRequest request;
  request.comment = c.vmray.submission_comment;
  request.user_config = Json{{"timeout", c.vmray.analysis_timeout_seconds}};
  std::string what;
  if (IsUrl(target)) {
    request.url = target;
    what = fmt::format("URL {}", RedactUrl(target));
  } else {
    std::error_code ec;
    const auto size = std::filesystem::file_size(target, ec);
    if (ec || !std::filesystem::is_regular_file(target, ec)) {
      ctx.err << fmt::format(
          "vmray-connector: cannot read the file {}: {}; give a readable file or an http(s):// "
          "URL\n",
          target, ec ? ec.message() : "not a regular file");
      return kExitRuntime;
    }
    if (static_cast<int64_t>(size) > c.vmray.max_file_size_bytes) {
      ctx.err << fmt::format(
          "vmray-connector: {} has {} bytes, more than vmray.max_file_size_bytes ({}); VMRay "
          "would refuse it. Raise the setting only if your VMRay deployment accepts larger "
          "files\n",
          target, size, c.vmray.max_file_size_bytes);
      return kExitRuntime;
    }
    std::ifstream in(target, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in.good() && !in.eof()) {
      ctx.err << fmt::format("vmray-connector: reading {} failed\n", target);
      return kExitRuntime;
    }
    request.content = bytes.str();
    request.filename = std::filesystem::path(target).filename().string();
    what = fmt::format("{} ({} bytes)", target, size);
  }

  vmray::Client client(c.vmray.base_url, VmrayPipeline(c, ctx.clock));
  ctx.err << fmt::format("submitting {} to {} ...\n", what, client.base_url()) << std::flush;
  auto result = client.Submit(request);
  if (!result) {
    ctx.err << "vmray-connector: the submission failed: " << Scrub(result.error().message) << "\n";
    return kExitRuntime;
  }
  for (const auto& e : result->errors) {
    ctx.err << fmt::format("vmray-connector: VMRay did not accept {}: {}\n",
                           e.filename.empty() ? what : e.filename, Scrub(e.message));
  }
  if (result->submissions.empty()) {
    if (result->errors.empty()) ctx.err << "vmray-connector: VMRay created no submission\n";
    return kExitRuntime;
  }
  for (const auto& s : result->submissions) {
    ctx.out << fmt::format("submission {} (sample {})\n", s.submission_id, s.sample_id);
  }
  for (const auto& s : result->samples) {
    ctx.out << fmt::format("sample {}: sha256 {}\n", s.sample_id, s.sha256);
    if (!s.webif_url.empty()) ctx.out << fmt::format("report: {}\n", s.webif_url);
  }
  return kExitOk;
}

}  // namespace vc::app
