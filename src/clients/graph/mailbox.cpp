#include "clients/graph/mailbox.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>

#include "clients/graph/errors.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "http/origin.hpp"

namespace vc::graph {
namespace {

const GraphErrorContext kMailboxErrors{"Mail.Read", "the mailbox, folder or message"};

// Only what the mail detonation reads; the rest of a message is never transferred.
constexpr std::string_view kMessageSelect =
    "id,internetMessageId,subject,from,toRecipients,receivedDateTime,hasAttachments,body";

Error Protocol(const std::string& message) {
  Error e = MakeError(ErrorCode::kProtocol, message);
  e.service = "graph";
  return e;
}

MailAddress AddressOf(const Json& recipient) {
  MailAddress a;
  if (recipient.is_object() && recipient["emailAddress"].is_object()) {
    const Json& e = recipient["emailAddress"];
    a.name = e.value("name", "");
    a.address = e.value("address", "");
  }
  return a;
}

// SHA-256 fed piece by piece (core/hash.hpp digests one string at once).
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { Reset(); }
  void Reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void Update(std::string_view piece) { EVP_DigestUpdate(ctx_.get(), piece.data(), piece.size()); }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", md[i]);
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

Error TooLarge(int64_t max_bytes) {
  Error e = MakeError(ErrorCode::kInvalidArgument,
                      fmt::format("the attachment is larger than the {} byte limit; raise the "
                                  "limit to analyse it, it was not downloaded further",
                                  max_bytes));
  e.service = "graph";
  return e;
}

// Writes the bytes to a file as they arrive, hashing and counting them. A retried attempt
// truncates and starts over.
class FileSink final : public http::BodySink {
 public:
  FileSink(std::filesystem::path path, int64_t max_bytes)
      : path_(std::move(path)), max_bytes_(max_bytes) {}
  Status Begin() override {
    out_.close();
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("cannot write the attachment to {}: check the directory "
                                   "exists and is writable",
                                   path_.string()));
    }
    result_ = Download{};
    hash_.Reset();
    return Ok();
  }
  Status Write(std::string_view piece) override {
    if (result_.bytes + static_cast<int64_t>(piece.size()) > max_bytes_)
      return TooLarge(max_bytes_);
    out_.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    if (!out_) {
      return MakeError(
          ErrorCode::kInternal,
          fmt::format("writing the attachment to {} failed (disk full?)", path_.string()));
    }
    hash_.Update(piece);
    result_.bytes += static_cast<int64_t>(piece.size());
    result_.largest_piece = std::max(result_.largest_piece, piece.size());
    return Ok();
  }
  Result<Download> Finish() {
    if (!out_.is_open()) VC_RETURN_IF_ERROR(Begin());  // an empty body never called Begin
    out_.close();
    if (!out_) return MakeError(ErrorCode::kInternal, "closing " + path_.string() + " failed");
    result_.sha256 = hash_.HexDigest();
    return result_;
  }

 private:
  std::filesystem::path path_;
  int64_t max_bytes_;
  std::ofstream out_;
  Download result_;
  Sha256Stream hash_;
};

class BufferSink final : public http::BodySink {
 public:
  explicit BufferSink(int64_t max_bytes) : max_bytes_(max_bytes) {}
  Status Begin() override {
    data_.clear();
    return Ok();
  }
  Status Write(std::string_view piece) override {
    if (static_cast<int64_t>(data_.size() + piece.size()) > max_bytes_) return TooLarge(max_bytes_);
    data_.append(piece);
    return Ok();
  }
  std::string Take() { return std::move(data_); }

 private:
  int64_t max_bytes_;
  std::string data_;
};

}  // namespace

Result<MailboxMessage> ParseMailboxMessage(const Json& j) {
  if (!j.is_object() || !j["id"].is_string() || j["id"].get<std::string>().empty()) {
    return Protocol("Graph listed a message without an id");
  }
  MailboxMessage m;
  m.id = j["id"].get<std::string>();
  m.internet_message_id = j.value("internetMessageId", "");
  m.subject = j.value("subject", "");
  if (j.contains("from")) m.from = AddressOf(j["from"]);
  if (j.contains("toRecipients") && j["toRecipients"].is_array()) {
    for (const auto& r : j["toRecipients"]) m.to.push_back(AddressOf(r));
  }
  auto received = ParseIso8601(j.value("receivedDateTime", ""));
  if (!received) {
    return Protocol(fmt::format("Graph listed message {} with receivedDateTime '{}', not a time",
                                Scrub(m.id), Scrub(j.value("receivedDateTime", ""))));
  }
  m.received = *received;
  m.has_attachments = j.value("hasAttachments", false);
  if (j.contains("body") && j["body"].is_object()) {
    std::string type = j["body"].value("contentType", "text");
    for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    m.body_type = type;
    m.body = j["body"].value("content", "");
  }
  return m;
}

MailboxClient::MailboxClient(MailboxOptions options, std::shared_ptr<http::Pipeline> api)
    : options_(std::move(options)), api_(std::move(api)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
  origin_ = http::OriginOf(options_.base_url);
}

std::string MailboxClient::MessageUrl(const std::string& mailbox,
                                      const std::string& message_id) const {
  return options_.base_url + "/v1.0/users/" + http::UrlEncode(mailbox) + "/messages/" +
         http::UrlEncode(message_id);
}

Result<Json> MailboxClient::GetJson(const std::string& url, const std::string& operation,
                                    const std::string& what) {
  http::Request r;
  r.method = http::Method::kGet;
  r.url = url;
  r.service = "graph";
  r.operation = operation;
  auto resp = api_->Send(std::move(r));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "graph";  // a token error stays "entra"
    return e;
  }
  if (!resp->ok()) return MapGraphError(*resp, what, kMailboxErrors);
  auto body = ParseJson(resp->body, "Graph");
  if (!body || !body->is_object()) return Protocol("Graph's answer to " + what + " is not JSON");
  return *body;
}

Result<MessagePage> MailboxClient::ListMessagesSince(const std::string& mailbox,
                                                     const std::string& folder, TimePoint since) {
  if (mailbox.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no mailbox given: name it by user principal name or object id");
  }
  std::string url = options_.base_url + "/v1.0/users/" + http::UrlEncode(mailbox);
  if (!folder.empty()) url += "/mailFolders/" + http::UrlEncode(folder);
  // The sorted property comes first in the filter, as Graph requires (else InefficientFilter).
  url +=
      "/messages?" + http::EncodeQuery({{"$filter", "receivedDateTime ge " + FormatIso8601(since) +
                                                        " and hasAttachments eq true"},
                                        {"$orderby", "receivedDateTime asc"},
                                        {"$top", std::to_string(options_.page_size)},
                                        {"$select", std::string(kMessageSelect)}});
  return FetchPage(url);
}

Result<MessagePage> MailboxClient::NextPage(const std::string& next_link) {
  if (http::OriginOf(next_link) != origin_) {
    return Protocol(fmt::format(
        "Graph's message list pointed its @odata.nextLink to '{}', not to {}; refused so the "
        "token is not sent there",
        Scrub(http::OriginOf(next_link).empty() ? next_link.substr(0, 60)
                                                : http::OriginOf(next_link)),
        origin_));
  }
  return FetchPage(next_link);
}

Result<MessagePage> MailboxClient::FetchPage(const std::string& url) {
  VC_ASSIGN_OR_RETURN(Json body, GetJson(url, "messages.list", "list the mailbox's messages"));
  if (!body["value"].is_array()) return Protocol("Graph's message list has no value array");
  MessagePage page;
  for (const auto& j : body["value"]) {
    VC_ASSIGN_OR_RETURN(MailboxMessage m, ParseMailboxMessage(j));
    page.messages.push_back(std::move(m));
  }
  if (body.contains("@odata.nextLink")) {
    if (!body["@odata.nextLink"].is_string()) return Protocol("Graph's nextLink is not a string");
    page.next_link = body["@odata.nextLink"].get<std::string>();
  }
  return page;
}

Result<std::vector<AttachmentInfo>> MailboxClient::ListAttachments(const std::string& mailbox,
                                                                   const std::string& message_id) {
  // Metadata only: with $select Graph leaves contentBytes out, so 50 attachments cost one
  // small answer and each file is then streamed on its own.
  std::string url = MessageUrl(mailbox, message_id) + "/attachments?" +
                    http::EncodeQuery({{"$select", "id,name,contentType,size,isInline"}});
  std::vector<AttachmentInfo> out;
  for (int page = 0;; ++page) {
    if (page >= options_.max_attachment_pages) {
      return Protocol(fmt::format("Graph's attachment list did not end after {} pages",
                                  options_.max_attachment_pages));
    }
    VC_ASSIGN_OR_RETURN(Json body,
                        GetJson(url, "attachments.list", "list the message's attachments"));
    if (!body["value"].is_array()) return Protocol("Graph's attachment list has no value array");
    for (const auto& j : body["value"]) {
      if (!j.is_object() || !j["id"].is_string()) {
        return Protocol("Graph listed an attachment without an id");
      }
      AttachmentInfo a;
      a.id = j["id"].get<std::string>();
      a.name = j.value("name", "");
      a.content_type = j.value("contentType", "");
      a.size = j.value("size", int64_t{0});
      a.is_inline = j.value("isInline", false);
      const std::string type = j.value("@odata.type", "");
      a.kind = type == "#microsoft.graph.fileAttachment"        ? AttachmentKind::kFile
               : type == "#microsoft.graph.itemAttachment"      ? AttachmentKind::kItem
               : type == "#microsoft.graph.referenceAttachment" ? AttachmentKind::kReference
                                                                : AttachmentKind::kOther;
      out.push_back(std::move(a));
    }
    if (!body.contains("@odata.nextLink") || !body["@odata.nextLink"].is_string()) break;
    url = body["@odata.nextLink"].get<std::string>();
    if (http::OriginOf(url) != origin_) {
      return Protocol(fmt::format(
          "Graph's attachment list pointed its @odata.nextLink to another host than {}; refused "
          "so the token is not sent there",
          origin_));
    }
  }
  return out;
}

Status MailboxClient::Stream(const std::string& mailbox, const std::string& message_id,
                             const std::string& attachment_id,
                             std::shared_ptr<http::BodySink> sink) {
  http::Request r;
  r.method = http::Method::kGet;
  r.url = MessageUrl(mailbox, message_id) + "/attachments/" + http::UrlEncode(attachment_id) +
          "/$value";
  r.service = "graph";
  r.operation = "attachments.download";
  r.sink = std::move(sink);
  auto resp = api_->Send(std::move(r));
  if (!resp) {
    Error e = resp.error();
    if (e.service.empty()) e.service = "graph";
    return e;
  }
  if (!resp->ok()) return MapGraphError(*resp, "download the attachment", kMailboxErrors);
  return Ok();
}

Result<Download> MailboxClient::DownloadToFile(const std::string& mailbox,
                                               const std::string& message_id,
                                               const std::string& attachment_id,
                                               const std::filesystem::path& path,
                                               int64_t max_bytes) {
  auto sink = std::make_shared<FileSink>(path, max_bytes);
  auto status = Stream(mailbox, message_id, attachment_id, sink);
  Result<Download> result = status ? sink->Finish() : Result<Download>(status.error());
  if (!result) {
    sink.reset();  // closes the file
    std::error_code ignored;
    std::filesystem::remove(path, ignored);  // no half attachment is left to be mistaken
  }
  return result;
}

Result<std::string> MailboxClient::DownloadToBuffer(const std::string& mailbox,
                                                    const std::string& message_id,
                                                    const std::string& attachment_id,
                                                    int64_t max_bytes) {
  auto sink = std::make_shared<BufferSink>(max_bytes);
  VC_RETURN_IF_ERROR(Stream(mailbox, message_id, attachment_id, sink));
  return sink->Take();
}

}  // namespace vc::graph
