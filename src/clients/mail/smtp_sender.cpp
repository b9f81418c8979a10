#include "clients/mail/smtp_sender.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "clients/mail/address.hpp"
#include "core/redact.hpp"

namespace vc::mail {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void EnsureCurlGlobal() {
  static CurlGlobal global;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* u = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, u->data->size() - u->offset);
  std::memcpy(buffer, u->data->data() + u->offset, n);
  u->offset += n;
  return n;
}

// Keeps the server's last reply line for the error message. Only what the server sent
// (CURLINFO_HEADER_IN) is looked at: our own commands carry the AUTH credentials.
int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* last = static_cast<std::string*>(user);
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  // Only failure replies: after a failure libcurl still says QUIT and the server's "221 Bye"
  // would hide the reason.
  if (!line.empty() && (line[0] == '4' || line[0] == '5')) {
    *last = SanitizeHeaderText(line.substr(0, 300));
  }
  return 0;
}

// "smtp://user:pw@host" -> "smtp://[redacted]@host": a password typed into the URL stays out.
std::string HideUserInfo(const std::string& url) {
  const size_t authority = url.find("://");
  const size_t at = url.find('@');
  if (authority == std::string::npos || at == std::string::npos || at < authority) return url;
  return url.substr(0, authority + 3) + std::string(kRedacted) + url.substr(at);
}

Status ValidateUrl(const std::string& url) {
  const bool scheme_ok = url.rfind("smtp://", 0) == 0 || url.rfind("smtps://", 0) == 0;
  const bool chars_ok = std::none_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
  });
  const size_t authority = scheme_ok ? url.find("://") + 3 : 0;
  const bool no_userinfo = url.find('@', authority) == std::string::npos;
  if (scheme_ok && chars_ok && no_userinfo && url.size() > authority) return Ok();
  return MakeError(
      ErrorCode::kInvalidArgument,
      fmt::format("invalid SMTP server URL \"{}\": write smtp://host:587 (STARTTLS) or "
                  "smtps://host:465, with the user name and password in their own "
                  "settings",
                  Scrub(SanitizeHeaderText(HideUserInfo(url)))));
}

Error SendError(CURLcode code, long reply, const std::string& url, const std::string& last_reply,
                const char* detail) {
  Error e;
  e.service = "smtp";
  // A 2xx/3xx code is the last good step before the failure, not the failure's reason.
  if (reply >= 400) {
    e.service_code = std::to_string(reply);
  } else {
    reply = 0;
  }
  const std::string what = detail && *detail ? detail : curl_easy_strerror(code);
  const std::string said = last_reply.empty() ? "" : fmt::format(" (server said: {})", last_reply);
  const std::string where = Scrub(url);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      e.code = ErrorCode::kUnavailable;
      e.message = fmt::format(
          "cannot connect to SMTP server {}: {}; check the host, port and "
          "firewall, the mail is retried later",
          where, what);
      return e;
    case CURLE_OPERATION_TIMEDOUT:
      e.code = ErrorCode::kUnavailable;
      e.message = fmt::format("SMTP server {} timed out: {}{}", where, what, said);
      return e;
    case CURLE_USE_SSL_FAILED:
      e.code = ErrorCode::kProtocol;
      e.message = fmt::format(
          "SMTP server {} does not offer STARTTLS{}; use smtps:// if it speaks TLS on connect, "
          "or turn off require_starttls only for a relay on a trusted network",
          where, said);
      return e;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
      e.code = ErrorCode::kProtocol;
      e.message = fmt::format(
          "TLS with SMTP server {} failed: {}; if a private CA signs its certificate, set the "
          "mail CA file to its PEM bundle",
          where, what);
      return e;
    default:
      break;
  }
  if (code == CURLE_LOGIN_DENIED || reply == 530 || reply == 534 || reply == 535) {
    e.code = ErrorCode::kPermissionDenied;
    e.message = fmt::format(
        "SMTP server {} rejected the login{}; check the mail user name and password", where, said);
  } else if (reply == 550 || reply == 551 || reply == 553 || reply == 501) {
    e.code = ErrorCode::kInvalidArgument;
    e.message = fmt::format(
        "SMTP server {} rejected the sender or a recipient{}; check the configured addresses",
        where, said);
  } else if (reply >= 400 && reply < 500) {
    e.code = ErrorCode::kUnavailable;
    e.message = fmt::format("SMTP server {} is temporarily refusing mail{}: {}; retried later",
                            where, said, what);
  } else if (reply >= 500) {
    e.code = ErrorCode::kProtocol;
    e.message = fmt::format("SMTP server {} refused the mail{}: {}", where, said, what);
  } else {
    e.code = ErrorCode::kUnavailable;
    e.message = fmt::format("SMTP server {} dropped the connection{}: {}; retried later", where,
                            said, what);
  }
  return e;
}

}  // namespace

SmtpSender::SmtpSender(SmtpOptions options) : options_(std::move(options)) {
  EnsureCurlGlobal();
}

Status SmtpSender::Send(const MailMessage& message, TimePoint date,
                        const std::string& message_id) const {
  VC_ASSIGN_OR_RETURN(std::string mime, BuildMime(message, date, message_id));
  return Send(message.from, message.to, mime);
}

Status SmtpSender::Send(const std::string& from, const std::vector<std::string>& recipients,
                        const std::string& mime) const {
  VC_RETURN_IF_ERROR(ValidateUrl(options_.url));
  VC_RETURN_IF_ERROR(ValidateAddress(from));
  if (recipients.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the mail has no recipients; configure at least one address");
  }
  for (const auto& r : recipients) VC_RETURN_IF_ERROR(ValidateAddress(r));

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return MakeError(ErrorCode::kInternal, "libcurl could not create a handle");
  CURL* h = curl.get();
  char error_buffer[CURL_ERROR_SIZE] = {0};
  std::string last_reply;
  Upload upload{&mime};

  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  const bool starttls = options_.url.rfind("smtp://", 0) == 0 && options_.require_starttls;
  if (starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.Reveal().c_str());
  }
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // only to feed OnDebug; nothing is printed
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &last_reply);

  const std::string envelope_from = "<" + from + ">";
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, envelope_from.c_str());
  curl_slist* rcpt = nullptr;
  for (const auto& r : recipients) rcpt = curl_slist_append(rcpt, ("<" + r + ">").c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt_owner(rcpt, curl_slist_free_all);
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mime.size()));

  const CURLcode code = curl_easy_perform(h);
  long reply = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
  if (code != CURLE_OK) {
    Error e = SendError(code, reply, options_.url, last_reply, error_buffer);
    e.message = Scrub(e.message);
    spdlog::warn("smtp: sending a mail to {} recipient(s) failed: {}", recipients.size(),
                 e.message);
    return e;
  }
  spdlog::debug("smtp: sent a mail of {} bytes to {} recipient(s) via {}", mime.size(),
                recipients.size(), Scrub(options_.url));
  return Ok();
}

}  // namespace vc::mail
