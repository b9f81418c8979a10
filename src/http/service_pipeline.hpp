// Builds the standard pipeline for one service, so every client stacks the same policies in
// the same order (see policies.hpp).
#pragma once

#include <memory>
#include <string>

#include "http/pipeline.hpp"
#include "http/policies.hpp"

namespace vc::http {

struct ServicePipelineOptions {
  std::string user_agent;
  RetryOptions retry;
  std::shared_ptr<Credential> credential;         // null: no Authorization header
  std::shared_ptr<RateLimiterRegistry> limiters;  // null: no local limits
  std::string request_id_header = "client-request-id";
};

std::shared_ptr<Pipeline> MakeServicePipeline(const ServicePipelineOptions& options,
                                              std::shared_ptr<Transport> transport, Clock& clock,
                                              Random& random);

}  // namespace vc::http
