#include "http/service_pipeline.hpp"

namespace vc::http {

std::shared_ptr<Pipeline> MakeServicePipeline(const ServicePipelineOptions& options,
                                              std::shared_ptr<Transport> transport, Clock& clock,
                                              Random& random) {
  std::vector<std::shared_ptr<Policy>> policies;
  policies.push_back(std::make_shared<RequestIdPolicy>(random, options.request_id_header));
  policies.push_back(std::make_shared<UserAgentPolicy>(options.user_agent));
  policies.push_back(std::make_shared<RetryPolicy>(options.retry, clock, random));
  if (options.limiters) {
    policies.push_back(
        std::make_shared<RateLimitPolicy>(options.limiters, clock, options.retry.max_inline_wait));
  }
  if (options.credential) policies.push_back(std::make_shared<AuthPolicy>(options.credential));
  policies.push_back(std::make_shared<LoggingPolicy>(clock));
  policies.push_back(std::make_shared<MetricsPolicy>(clock));
  return std::make_shared<Pipeline>(std::move(policies), std::move(transport));
}

}  // namespace vc::http
