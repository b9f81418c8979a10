// A transport that answers from a script and records what it was sent: for unit tests of the
// policies only. Contract and end-to-end tests use real HTTP against the emulators.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "http/transport.hpp"

namespace vc::http::testing {

class ScriptedTransport final : public Transport {
 public:
  using Step = std::function<Result<Response>(const Request&)>;

  void Then(Step step) { steps_.push_back(std::move(step)); }
  void ThenStatus(int status, std::vector<std::pair<std::string, std::string>> headers = {},
                  std::string body = "") {
    Then([=](const Request&) -> Result<Response> {
      Response r;
      r.status = status;
      for (const auto& [k, v] : headers) r.headers.Add(k, v);
      r.body = body;
      return r;
    });
  }
  void ThenError(ErrorCode code, std::string service_code) {
    Then([=](const Request&) -> Result<Response> {
      Error e = MakeError(code, "scripted transport failure");
      e.service_code = service_code;
      return e;
    });
  }

  Result<Response> Send(const Request& request) override {
    std::lock_guard lock(mu_);
    sent_.push_back(request);
    if (steps_.empty()) return MakeError(ErrorCode::kInternal, "script exhausted");
    Step step = std::move(steps_.front());
    steps_.pop_front();
    return step(request);
  }

  const std::vector<Request>& sent() const { return sent_; }

 private:
  std::mutex mu_;
  std::deque<Step> steps_;
  std::vector<Request> sent_;
};

}  // namespace vc::http::testing
