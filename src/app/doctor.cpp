#include "app/doctor.hpp"

#include <fmt/format.h>

#include <sstream>

#include "app/doctor_context.hpp"
#include "core/random.hpp"
#include "core/redact.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"
#include "version.hpp"

namespace vc::app {
namespace {

constexpr size_t kCheckColumn = 31;  // check names are at most 30 characters
constexpr size_t kResultColumn = 9;  // "PROBLEM" and a blank
constexpr size_t kDetailIndent = kCheckColumn + kResultColumn;

// Splits `text` into lines of at most `width` characters at blanks; '\n' forces a break. A word
// longer than the width (a URL) gets a line of its own rather than being cut.
std::vector<std::string> Wrap(std::string_view text, size_t width) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::istringstream words{std::string(text.substr(start, end - start))};
    std::string line;
    std::string word;
    while (words >> word) {
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        lines.push_back(std::move(line));
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::string Header() {
  return fmt::format("{:<{}}{:<{}}{}", "CHECK", kCheckColumn, "RESULT", kResultColumn,
                     "DETAILS / HOW TO FIX");
}

// Emits the configuration row from a load result; returns the config when it is valid.
std::optional<config::Config> CheckConfiguration(const DoctorOptions& options,
                                                 const std::function<void(const CheckRow&)>& emit) {
  config::LoadResult loaded = config::LoadConfig(options.load);
  const std::string from = options.load.file.empty()
                               ? "defaults and environment"
                               : fmt::format("{}, defaults and environment", options.load.file);
  CheckRow row;
  row.check = "configuration";
  if (!loaded.config) {
    row.outcome = CheckOutcome::kProblem;
    row.detail = fmt::format("{} problem{} ({}):", loaded.problems.size(),
                             loaded.problems.size() == 1 ? "" : "s", from);
    for (const auto& p : loaded.problems) row.detail += "\n- " + config::FormatProblem(p);
    row.fix =
        "correct each one (docs/configuration.md describes every key), then run `vmray-connector "
        "validate`; the other checks need a valid configuration";
  } else {
    row.detail = fmt::format("valid ({})", from);
  }
  for (const auto& w : loaded.warnings) row.detail += "\n- warning: " + w;
  emit(row);
  return loaded.config;
}

}  // namespace

std::string_view OutcomeName(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::kOk:
      return "OK";
    case CheckOutcome::kProblem:
      return "PROBLEM";
    case CheckOutcome::kSkipped:
      return "SKIPPED";
  }
  return "?";
}

std::string FormatRow(const CheckRow& row, size_t width) {
  const size_t text_width = width > kDetailIndent + 20 ? width - kDetailIndent : 20;
  std::vector<std::string> lines = Wrap(row.detail, text_width);
  if (!row.fix.empty()) {
    for (auto& line : Wrap("fix: " + row.fix, text_width)) lines.push_back(std::move(line));
  }
  std::string out = fmt::format("{:<{}}{:<{}}{}", row.check, kCheckColumn, OutcomeName(row.outcome),
                                kResultColumn, lines.front());
  for (size_t i = 1; i < lines.size(); ++i) {
    out += fmt::format("\n{:<{}}{}", "", kDetailIndent, lines[i]);
  }
  // Blank detail lines would leave trailing blanks that golden files and terminals trip over.
  std::string trimmed;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    trimmed += (trimmed.empty() ? "" : "\n") + line;
  }
  return trimmed;
}

DoctorContext::DoctorContext(const config::Config& config, Clock& clock,
                             std::function<void(const CheckRow&)> emit)
    : config_(config), clock_(clock), emit_(std::move(emit)) {
  http::TransportOptions t;
  t.proxy = config.http.proxy;
  t.ca_file = config.http.ca_file;
  t.verify_tls = !config.http.insecure_skip_tls_verify;
  t.connect_timeout = Millis(config.http.connect_timeout_seconds * 1000LL);
  t.request_timeout = Millis(config.http.request_timeout_seconds * 1000LL);
  transport_ = std::make_shared<http::CurlTransport>(t);
}

void DoctorContext::Emit(std::string check, CheckOutcome outcome, std::string detail,
                         std::string fix) {
  emit_(CheckRow{std::move(check), outcome, std::move(detail), std::move(fix)});
}

std::shared_ptr<http::Pipeline> DoctorContext::Pipeline(
    std::string_view user_agent, std::shared_ptr<http::Credential> credential) {
  http::ServicePipelineOptions o;
  o.user_agent = std::string(user_agent);
  o.retry.max_retries = 0;
  o.credential = std::move(credential);
  return http::MakeServicePipeline(o, transport_, clock_, DefaultRandom());
}

std::shared_ptr<auth::EntraTokenCache> DoctorContext::Tokens() {
  if (!tokens_) {
    auth::EntraOptions entra;
    entra.authority_host = config_.azure.authority_host;
    entra.tenant_id = config_.azure.tenant_id;
    entra.client_id = config_.azure.client_id;
    entra.client_secret = config_.azure.client_secret;
    entra.token_version = config_.azure.token_version;
    tokens_ = std::make_shared<auth::EntraTokenCache>(entra, Pipeline(kUserAgent, nullptr), clock_);
  }
  return tokens_;
}

void CheckNotYetBuilt(DoctorContext& ctx) {
  // Each becomes a real check when its feature lands; until then the row says so.
  struct Pending {
    const char* check;
    const char* feature;
  };
  for (const Pending& p : {Pending{"sentinel: incidents", "Sentinel incident URL detonation"},
                           Pending{"graph mail", "mail attachment detonation"}}) {
    ctx.Emit(p.check, CheckOutcome::kSkipped,
             fmt::format("not configured in this build: the feature ({}) comes in a later "
                         "version",
                         p.feature),
             "nothing to do until the feature exists");
  }
  // Logging in to the SMTP server would open a real mail session; the doctor stays read-only.
  if (!ctx.config().mail.enabled) {
    ctx.Emit("smtp", CheckOutcome::kSkipped, "e-mail notifications are off (mail.enabled)",
             "set mail.enabled, mail.smtp_url, mail.from and mail.to to mail each settled alert");
  } else {
    ctx.Emit("smtp", CheckOutcome::kSkipped,
             "mail.enabled: the login to mail.smtp_url is not tried here (it would open a mail "
             "session)",
             "after the first settled alert, a refused login or an unreachable server shows in "
             "the log as 'sending the alert mail' and as "
             "vc_outbox_items{kind=\"mail_notification\",state=\"pending\"} on /metrics");
  }
}

std::string JoinRoles(const std::vector<std::string>& roles) {
  std::string out;
  for (const auto& r : roles) out += (out.empty() ? "" : ", ") + r;
  return out.empty() ? "none" : out;
}

void CheckSentinelFeed(DoctorContext& ctx) {
  const auto& feed = ctx.config().feed;
  if (!feed.enabled) {
    return ctx.Emit("sentinel: TI feed token", CheckOutcome::kSkipped,
                    "the Sentinel threat-intelligence feed is off (feed.enabled)",
                    "nothing to do unless you turn the feed on");
  }
  auto token = ctx.Tokens()->Token(feed.resource);
  if (!token) {
    return ctx.Emit("sentinel: TI feed token", CheckOutcome::kProblem,
                    fmt::format("no token for {}: {}", feed.resource, token.error().message),
                    "check AzureTenantID, AzureClientID, AzureClientSecret and feed.resource "
                    "(https://management.azure.com)");
  }
  ctx.Emit("sentinel: TI feed token", CheckOutcome::kOk,
           fmt::format("issued for {}", feed.resource));
  // The upload API has no read-only call, and the right is an Azure role assignment on the
  // workspace, which the token does not carry.
  ctx.Emit("sentinel: workspace role", CheckOutcome::kSkipped,
           fmt::format("not detectable with read-only calls: the app needs the Microsoft Sentinel "
                       "Contributor role on workspace {}",
                       feed.workspace_id),
           fmt::format("in the Azure portal open the Log Analytics workspace > Access control "
                       "(IAM) > Add role assignment, choose Microsoft Sentinel Contributor and "
                       "the application {}; a missing role shows as HTTP 403 in `vmray-connector "
                       "feed --once`",
                       ctx.config().azure.client_id));
}

DoctorResult RunDoctor(const DoctorOptions& options, std::ostream& out) {
  Clock& clock = options.clock ? *options.clock : DefaultClock();
  DoctorResult result;
  auto emit = [&](const CheckRow& row) {
    result.rows.push_back(row);
    out << Scrub(FormatRow(row, options.width)) << "\n" << std::flush;
  };
  out << fmt::format("vmray-connector {} doctor: read-only checks of every configured service\n\n",
                     kVersion)
      << Header() << "\n";
  auto config = CheckConfiguration(options, emit);
  if (!config) {
    result.config_invalid = true;
    result.exit_code = 2;
    out << "\nsummary: the configuration is invalid; fix it first (exit 2)\n";
    return result;
  }
  DoctorContext ctx(*config, clock, emit);
  // The table of checks, in order. A new service adds its check function here.
  for (void (*check)(DoctorContext&) : {CheckStore, CheckDefender, CheckGraph, CheckVmray,
                                        CheckBlob, CheckSentinelFeed, CheckNotYetBuilt}) {
    check(ctx);
  }

  int counts[3] = {0, 0, 0};
  for (const auto& row : result.rows) ++counts[static_cast<int>(row.outcome)];
  const int problems = counts[static_cast<int>(CheckOutcome::kProblem)];
  result.exit_code = problems > 0 ? 1 : 0;
  out << fmt::format("\nsummary: {} OK, {} PROBLEM, {} SKIPPED; {}\n",
                     counts[static_cast<int>(CheckOutcome::kOk)], problems,
                     counts[static_cast<int>(CheckOutcome::kSkipped)],
                     problems > 0 ? "fix the PROBLEM rows and run `vmray-connector doctor` again "
                                    "(exit 1)"
                                  : "no problem found; read the SKIPPED rows for what a read-only "
                                    "check cannot see (exit 0)");
  return result;
}

}  // namespace vc::app
