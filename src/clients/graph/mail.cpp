#include "clients/graph/mail.hpp"

#include "clients/graph/errors.hpp"
#include "core/base64.hpp"
#include "http/curl_transport.hpp"

namespace vc::graph {
namespace {

const GraphErrorContext kMailErrors{"Mail.Send", "the sending mailbox (mail.graph_sender)"};

}  // namespace

GraphMailSender::GraphMailSender(std::string base_url, std::string sender,
                                 std::shared_ptr<http::Pipeline> api)
    : base_url_(std::move(base_url)), sender_(std::move(sender)), api_(std::move(api)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Status GraphMailSender::Send(const mail::MailMessage& message, TimePoint date,
                             const std::string& message_id) const {
  if (sender_.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "mail.graph_sender is empty: name the mailbox that sends (its user principal "
                     "name or object id)");
  }
  VC_ASSIGN_OR_RETURN(std::string mime, mail::BuildMime(message, date, message_id));
  http::Request r;
  r.method = http::Method::kPost;
  r.url = base_url_ + "/v1.0/users/" + http::UrlEncode(sender_) + "/sendMail";
  r.service = "graph";
  r.operation = "users.sendMail";
  r.headers.Set("Content-Type", "text/plain");
  r.body = Base64Encode(mime);
  // Not idempotent on the wire: the retry policy resends only when the request provably never
  // arrived; a lost answer is covered by the stable Message-ID.
  auto resp = api_->Send(std::move(r));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "graph";  // a token error stays "entra"
    return e;
  }
  if (!resp->ok()) return MapGraphError(*resp, "send the notification mail", kMailErrors);
  return Ok();
}

}  // namespace vc::graph
