// One HTTP stack for every client, shaped like the Azure SDK's pipeline: an ordered list of
// policies, each of which may change the request, call the rest of the chain (possibly more
// than once, as retry and auth do) and look at the answer; the transport comes last.
#pragma once

#include <memory>
#include <vector>

#include "http/transport.hpp"

namespace vc::http {

class Pipeline;

// The rest of the chain after one policy.
class NextPolicy {
 public:
  NextPolicy(const Pipeline& pipeline, size_t index) : pipeline_(pipeline), index_(index) {}
  Result<Response> operator()(Request& request) const;

 private:
  const Pipeline& pipeline_;
  size_t index_;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual Result<Response> Send(Request& request, const NextPolicy& next) = 0;
};

class Pipeline {
 public:
  Pipeline(std::vector<std::shared_ptr<Policy>> policies, std::shared_ptr<Transport> transport);
  // Runs the request through every policy and the transport.
  Result<Response> Send(Request request) const;

 private:
  friend class NextPolicy;
  Result<Response> SendFrom(size_t index, Request& request) const;

  std::vector<std::shared_ptr<Policy>> policies_;
  std::shared_ptr<Transport> transport_;
};

}  // namespace vc::http
