#include "http/pipeline.hpp"

namespace vc::http {

Result<Response> NextPolicy::operator()(Request& request) const {
  return pipeline_.SendFrom(index_, request);
}

Pipeline::Pipeline(std::vector<std::shared_ptr<Policy>> policies,
                   std::shared_ptr<Transport> transport)
    : policies_(std::move(policies)), transport_(std::move(transport)) {}

Result<Response> Pipeline::Send(Request request) const {
  return SendFrom(0, request);
}

Result<Response> Pipeline::SendFrom(size_t index, Request& request) const {
  if (index < policies_.size()) {
    return policies_[index]->Send(request, NextPolicy(*this, index + 1));
  }
  return transport_->Send(request);
}

}  // namespace vc::http
