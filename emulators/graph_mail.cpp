// Graph sendMail (POST /v1.0/users/{id|upn}/sendMail): the JSON message form and the base64 MIME
// form (Content-Type text/plain), 202 with no body, ErrorMimeContentInvalidBase64String for MIME
// that is not base64. Sent mails are kept in the state ("sent_mail") for tests to read.
#include <fmt/format.h>

#include <sstream>

#include "core/base64.hpp"
#include "core/time.hpp"
#include "graph_emulator.hpp"

namespace vc::emu {
namespace {

// The value of one header of a MIME text (unfolded), or "" when absent.
std::string MimeHeader(const std::string& mime, const std::string& name) {
  std::istringstream in(mime);
  std::string line;
  std::string value;
  bool in_header = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // end of the header block
    if ((line[0] == ' ' || line[0] == '\t') && in_header) {
      value += line;
      continue;
    }
    if (in_header) return value;
    const auto colon = line.find(':');
    if (colon != std::string::npos && line.compare(0, colon, name) == 0 && colon == name.size()) {
      in_header = true;
      value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    }
  }
  return in_header ? value : "";
}

bool ValidRecipients(const Json& list) {
  if (!list.is_array() || list.empty()) return false;
  for (const auto& r : list) {
    if (!r.is_object() || !r["emailAddress"].is_object() ||
        !r["emailAddress"]["address"].is_string() ||
        r["emailAddress"]["address"].get<std::string>().find('@') == std::string::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

void GraphEmulator::HandleSendMail(const httplib::Request& req, httplib::Response& res) {
  constexpr std::string_view kPrefix = "/v1.0/users/";
  constexpr std::string_view kSuffix = "/sendMail";
  const std::string mailbox =
      req.path.substr(kPrefix.size(), req.path.size() - kPrefix.size() - kSuffix.size());
  if (req.method != "POST") {
    return AssertionFailed(
        req, res,
        fmt::format("method {} is not allowed on {} (allowed: POST)", req.method, req.path));
  }
  if (!req.params.empty()) {
    return AssertionFailed(req, res,
                           fmt::format("unexpected query parameter '{}' (sendMail takes none)",
                                       req.params.begin()->first));
  }
  const std::string type = HeaderOr(req, "Content-Type");
  Json sent{{"mailbox", mailbox}};
  if (type.rfind("text/plain", 0) == 0) {
    auto mime = Base64Decode(req.body);
    if (!mime || mime->empty()) {
      std::lock_guard lock(state_mutex());
      if (!Authenticate(req, res)) return;
      return SendError(res, 400, "ErrorMimeContentInvalidBase64String",
                       "Invalid base64 string for MIME content.");
    }
    for (const char* header : {"From", "To", "Subject", "Message-ID", "Date"}) {
      if (MimeHeader(*mime, header).empty()) {
        return AssertionFailed(req, res, fmt::format("the MIME message has no {} header", header));
      }
    }
    sent["form"] = "mime";
    sent["message_id"] = MimeHeader(*mime, "Message-ID");
    sent["subject"] = MimeHeader(*mime, "Subject");
    sent["to"] = MimeHeader(*mime, "To");
    sent["mime"] = *mime;
  } else if (type.rfind("application/json", 0) == 0) {
    Json body;
    try {
      body = Json::parse(req.body);
    } catch (const Json::exception&) {
      return SendError(res, 400, "BadRequest", "The request body is not valid JSON.");
    }
    if (!body.is_object() || !body["message"].is_object()) {
      return SendError(res, 400, "ErrorInvalidRequest", "A message is required.");
    }
    const Json& m = body["message"];
    if (!ValidRecipients(m.value("toRecipients", Json::array()))) {
      return SendError(res, 400, "ErrorInvalidRecipients", "At least one recipient is not valid.");
    }
    sent["form"] = "json";
    sent["message"] = m;
  } else {
    return AssertionFailed(req, res,
                           "Content-Type must be application/json or text/plain (base64 MIME), "
                           "was '" +
                               type + "'");
  }
  std::lock_guard lock(state_mutex());
  if (!Authenticate(req, res)) return;
  // What Exchange answers when the app lacks the Mail.Send application permission.
  if (!RequireRole(req, res, {"Mail.Send"}, "ErrorAccessDenied",
                   "Access is denied. Check credentials and try again.")) {
    return;
  }
  sent["at"] = FormatIso8601(clock().Now());
  sent_mail_.push_back(std::move(sent));
  res.status = 202;
}

}  // namespace vc::emu
