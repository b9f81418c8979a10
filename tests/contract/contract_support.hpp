// Shared pieces of the contract tests. Each client is built exactly as the daemon builds it (a
// real CurlTransport, MakeServicePipeline with retry options, the service's credential) and runs
// against in-process emulators on 127.0.0.1 and port 0. One ManualClock drives the emulators and
// the pipeline, so back-off is instant and every wait the retry policy chose is recorded.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/random.hpp"
#include "core/result.hpp"
#include "emulator_set.hpp"
#include "http/curl_transport.hpp"
#include "http/service_pipeline.hpp"

namespace vc::contract {

// Every secret the tests hand out carries this marker; it must never be seen anywhere.
inline constexpr std::string_view kSecretMarker = "DO-NOT-LOG";

using Pairs = std::vector<std::pair<std::string, std::string>>;

// The IMF-fixdate form of Retry-After (RFC 9110 5.6.7), e.g. "Tue, 14 Nov 2023 22:13:27 GMT".
std::string HttpDate(TimePoint t);
// The percent-decoded pairs of a query string or an x-www-form-urlencoded body, in order.
Pairs DecodePairs(std::string_view text);
// The value of the pair named `name` when it occurs exactly once.
std::optional<std::string> OnlyValue(const Pairs& pairs, std::string_view name);

// What one client under test is built with. Defaults: the daemon's retry defaults, a transport
// with the daemon's timeouts.
struct ClientSetup {
  http::RetryOptions retry;
  http::TransportOptions transport;
};

class ContractTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Fails the test when an emulator recorded a contract violation, or when a secret shows up in
  // a call log, a log line or any error the test looked at.
  void TearDown() override;

  void StartEmulators(emu::EmulatorSetOptions options = {});
  emu::EmulatorSet& emulators() { return *emulators_; }
  void Seed(const Json& seed);

  // The daemon's pipeline for one service (see app/daemon.cpp Open()).
  std::shared_ptr<http::Pipeline> MakePipeline(
      const ClientSetup& setup, std::string_view user_agent,
      std::shared_ptr<http::Credential> credential,
      std::shared_ptr<http::RateLimiterRegistry> limiters = nullptr);

  // Records an error the test checked, so TearDown can scan its text for secrets.
  const Error& Seen(const Error& error);
  std::string Logs() const { return log_ ? log_->str() : std::string(); }

  ManualClock clock_;
  SeededRandom random_{20240917};
  std::unique_ptr<emu::EmulatorSet> emulators_;

 private:
  std::shared_ptr<std::ostringstream> log_;
  std::shared_ptr<spdlog::logger> previous_logger_;
  std::vector<std::string> errors_seen_;
};

// Only the calls of one emulator that match method and path regex, in order.
std::vector<emu::CallRecord> CallsTo(const emu::EmulatorServer& server, const std::string& method,
                                     const std::string& path_regex);
// The statuses of those calls, in order.
std::vector<int> StatusesOf(const std::vector<emu::CallRecord>& calls);

}  // namespace vc::contract
