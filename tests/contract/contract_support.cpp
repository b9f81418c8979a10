#include "contract/contract_support.hpp"

#include <gmock/gmock.h>
#include <spdlog/sinks/ostream_sink.h>

#include <fmt/format.h>

#include <ctime>
#include <regex>

namespace vc::contract {

std::string HttpDate(TimePoint t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Spelled out rather than strftime: the names must not depend on the test's locale.
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Pairs DecodePairs(std::string_view text) {
  Pairs out;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    const size_t eq = pair.find('=');
    out.emplace_back(http::UrlDecode(pair.substr(0, eq)),
                     eq == std::string_view::npos ? "" : http::UrlDecode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
  return out;
}

std::optional<std::string> OnlyValue(const Pairs& pairs, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [k, v] : pairs) {
    if (k != name) continue;
    if (found) return std::nullopt;
    found = v;
  }
  return found;
}

void ContractTest::SetUp() {
  // Every log line of the test goes to memory as well, so TearDown can look for secrets in it.
  log_ = std::make_shared<std::ostringstream>();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*log_);
  auto logger = std::make_shared<spdlog::logger>("contract", sink);
  logger->set_level(spdlog::level::debug);
  previous_logger_ = spdlog::default_logger();
  spdlog::set_default_logger(logger);
}

void ContractTest::TearDown() {
  if (emulators_) {
    EXPECT_THAT(emulators_->AssertionFailures(), ::testing::IsEmpty());
    for (const emu::EmulatorServer* server : std::initializer_list<const emu::EmulatorServer*>{
             &emulators_->entra(), &emulators_->vmray(), &emulators_->mde()}) {
      for (const auto& c : server->Calls()) {
        EXPECT_EQ(c.body.find(kSecretMarker), std::string::npos)
            << server->name() << " logged a secret in the body of " << c.method << " " << c.path;
        EXPECT_EQ(c.query.find(kSecretMarker), std::string::npos)
            << server->name() << " logged a secret in the query of " << c.method << " " << c.path;
      }
    }
  }
  for (const auto& text : errors_seen_) {
    EXPECT_EQ(text.find(kSecretMarker), std::string::npos) << "secret in an error: " << text;
  }
  spdlog::default_logger()->flush();
  const std::string logs = Logs();
  EXPECT_EQ(logs.find(kSecretMarker), std::string::npos) << "secret in the log:\n" << logs;
  spdlog::set_default_logger(previous_logger_);
  if (emulators_) emulators_->Stop();
}

void ContractTest::StartEmulators(emu::EmulatorSetOptions options) {
  emulators_ = std::make_unique<emu::EmulatorSet>(std::move(options), clock_);
  emulators_->Start();
}

void ContractTest::Seed(const Json& seed) {
  auto problem = emulators_->Seed(seed);
  ASSERT_FALSE(problem.has_value()) << *problem;
}

std::shared_ptr<http::Pipeline> ContractTest::MakePipeline(
    const ClientSetup& setup, std::string_view user_agent,
    std::shared_ptr<http::Credential> credential,
    std::shared_ptr<http::RateLimiterRegistry> limiters) {
  http::ServicePipelineOptions options;
  options.user_agent = std::string(user_agent);
  options.retry = setup.retry;
  options.credential = std::move(credential);
  options.limiters = std::move(limiters);
  return http::MakeServicePipeline(options, std::make_shared<http::CurlTransport>(setup.transport),
                                   clock_, random_);
}

const Error& ContractTest::Seen(const Error& error) {
  errors_seen_.push_back(error.ToString());
  return error;
}

std::vector<emu::CallRecord> CallsTo(const emu::EmulatorServer& server, const std::string& method,
                                     const std::string& path_regex) {
  const std::regex re(path_regex);
  std::vector<emu::CallRecord> out;
  for (auto& c : server.Calls()) {
    if ((method.empty() || c.method == method) && std::regex_match(c.path, re)) {
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<int> StatusesOf(const std::vector<emu::CallRecord>& calls) {
  std::vector<int> out;
  for (const auto& c : calls) out.push_back(c.status);
  return out;
}

}  // namespace vc::contract
