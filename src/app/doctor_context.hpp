// What the doctor's checks share: the loaded configuration, one HTTP transport, one Entra token
// cache, and the sink that prints each row as soon as it is known. The checks themselves live in
// doctor_*.cpp, one file per service; doctor.cpp lists them in the order they run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/doctor.hpp"
#include "auth/entra_token_cache.hpp"
#include "config/config.hpp"
#include "http/pipeline.hpp"
#include "http/transport.hpp"

namespace vc::app {

class DoctorContext {
 public:
  DoctorContext(const config::Config& config, Clock& clock,
                std::function<void(const CheckRow&)> emit);

  const config::Config& config() const { return config_; }
  Clock& clock() { return clock_; }

  void Emit(std::string check, CheckOutcome outcome, std::string detail, std::string fix = "");

  // A pipeline like the daemon's for one service, but without retries: a diagnosis reports what
  // the first answer was instead of waiting out a back-off budget.
  std::shared_ptr<http::Pipeline> Pipeline(std::string_view user_agent,
                                           std::shared_ptr<http::Credential> credential);
  std::shared_ptr<auth::EntraTokenCache> Tokens();
  std::shared_ptr<http::Transport> Transport() { return transport_; }

 private:
  const config::Config& config_;
  Clock& clock_;
  std::function<void(const CheckRow&)> emit_;
  std::shared_ptr<http::Transport> transport_;
  std::shared_ptr<auth::EntraTokenCache> tokens_;
};

// The checks, in the order of the table.
// "a, b, c", or "none" for an empty list: the roles a token carries, in problem rows.
std::string JoinRoles(const std::vector<std::string>& roles);

void CheckStore(DoctorContext& ctx);
void CheckDefender(DoctorContext& ctx);
void CheckVmray(DoctorContext& ctx);
void CheckBlob(DoctorContext& ctx);
// Services this build has no feature for yet: SKIPPED rows that keep the table's shape.
void CheckGraph(DoctorContext& ctx);
void CheckSentinelFeed(DoctorContext& ctx);
void CheckNotYetBuilt(DoctorContext& ctx);

}  // namespace vc::app
