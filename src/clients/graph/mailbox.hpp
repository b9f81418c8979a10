// Reading a watched mailbox through Microsoft Graph v1.0 (application permission Mail.Read):
// the messages with attachments received since a cursor, page by page, their attachments, and
// one attachment's bytes. Replaces the Office 365 "When a new email arrives (V3)" trigger of
// the VMRay-Sandbox_Outlook_Attachment playbook (original-sentinel-solution.md 6.1).
//
// Calls go through the shared pipeline (Entra token for https://graph.microsoft.com, retry that
// waits out 429 Retry-After, rate limits). Pages are followed only on the configured Graph
// origin: the token goes with every request, so a nextLink to another host is refused.
// Attachments are downloaded from .../$value into a BodySink, so a 100 MB attachment is
// streamed to a file (with its SHA-256 computed on the way) and never held in memory; the
// buffer form has a size cap for small ones.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/pipeline.hpp"

namespace vc::graph {

struct MailAddress {
  std::string name;
  std::string address;
};

struct MailboxMessage {
  std::string id;
  std::string internet_message_id;
  std::string subject;
  MailAddress from;
  std::vector<MailAddress> to;
  TimePoint received;
  bool has_attachments = false;
  std::string body_type;  // "text" or "html"
  std::string body;
};

struct MessagePage {
  std::vector<MailboxMessage> messages;
  std::string next_link;  // empty: the last page
};

enum class AttachmentKind { kFile, kItem, kReference, kOther };

struct AttachmentInfo {
  std::string id;
  std::string name;
  std::string content_type;
  int64_t size = 0;
  bool is_inline = false;
  AttachmentKind kind = AttachmentKind::kOther;
};

struct Download {
  int64_t bytes = 0;
  std::string sha256;        // lower-case hex of the bytes written
  size_t largest_piece = 0;  // the most bytes the client held at once
};

struct MailboxOptions {
  std::string base_url = "https://graph.microsoft.com";
  int page_size = 50;  // $top of a message list, 1..1000
  int max_attachment_pages = 20;
};

class MailboxClient {
 public:
  MailboxClient(MailboxOptions options, std::shared_ptr<http::Pipeline> api);

  // First page of the messages with attachments received at or after `since` in `folder`
  // (a well-known name such as "inbox", or a folder id; empty: every folder), oldest first.
  // "ge", not "gt": a mail received in the same second as the cursor is not lost; the caller
  // skips ids it has seen.
  Result<MessagePage> ListMessagesSince(const std::string& mailbox, const std::string& folder,
                                        TimePoint since);
  // The page behind a MessagePage::next_link, which must be on the configured Graph origin.
  Result<MessagePage> NextPage(const std::string& next_link);
  // Every attachment of a message (metadata only; bytes come from Download*).
  Result<std::vector<AttachmentInfo>> ListAttachments(const std::string& mailbox,
                                                      const std::string& message_id);
  // Streams the attachment's bytes into `path` (created or truncated; removed on failure).
  // More than `max_bytes` aborts the download (kInvalidArgument).
  Result<Download> DownloadToFile(const std::string& mailbox, const std::string& message_id,
                                  const std::string& attachment_id,
                                  const std::filesystem::path& path, int64_t max_bytes);
  // The attachment's bytes in memory, for small ones; more than `max_bytes` is kInvalidArgument.
  Result<std::string> DownloadToBuffer(const std::string& mailbox, const std::string& message_id,
                                       const std::string& attachment_id, int64_t max_bytes);

 private:
  Result<MessagePage> FetchPage(const std::string& url);
  Result<Json> GetJson(const std::string& url, const std::string& operation,
                       const std::string& what);
  Status Stream(const std::string& mailbox, const std::string& message_id,
                const std::string& attachment_id, std::shared_ptr<http::BodySink> sink);
  std::string MessageUrl(const std::string& mailbox, const std::string& message_id) const;

  MailboxOptions options_;
  std::string origin_;
  std::shared_ptr<http::Pipeline> api_;
};

// One message of a Graph list; a message without id or with a bad receivedDateTime is an error.
Result<MailboxMessage> ParseMailboxMessage(const Json& j);

}  // namespace vc::graph
