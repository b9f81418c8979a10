// Reading a mailbox through Microsoft Graph v1.0 (api-reference.md section 4):
//   GET /v1.0/users/{id|upn}[/mailFolders/{folder}]/messages   $filter, $orderby, $top, $select,
//                                                              $skip; @odata.nextLink paging
//   GET .../messages/{id}                                       one message
//   GET .../messages/{id}/attachments                           $select of the base properties
//   GET .../messages/{id}/attachments/{id}                      one attachment
//   GET .../messages/{id}/attachments/{id}/$value               raw bytes (streamed), MIME for
//                                                               an item attachment, 405 for a
//                                                               reference attachment
// Every route wants a Graph token whose roles hold Mail.Read or Mail.ReadWrite (403
// ErrorAccessDenied otherwise). An unknown mailbox is 404 ErrorInvalidUser, an unknown message
// or attachment 404 ErrorItemNotFound. Throttling (429 with Retry-After) comes from the fault
// rules, as for every emulator.
//
// The $filter grammar is the part of OData the connector uses: clauses joined by "and", each
// "receivedDateTime ge|gt|le|lt|eq <ISO 8601>" or "hasAttachments eq true|false". Graph's rule
// that a sorted property must also come first in the filter is enforced (400 InefficientFilter).
// Anything else in $filter is an assertion failure: the emulator cannot tell what Graph would do.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "graph_emulator.hpp"
#include "http/curl_transport.hpp"

namespace vc::emu {
namespace {

// The message properties a client may $select (Graph v1.0 message resource).
const std::set<std::string>& MessageProperties() {
  static const std::set<std::string> kProps = {"id",
                                               "createdDateTime",
                                               "lastModifiedDateTime",
                                               "receivedDateTime",
                                               "sentDateTime",
                                               "hasAttachments",
                                               "internetMessageId",
                                               "subject",
                                               "bodyPreview",
                                               "importance",
                                               "parentFolderId",
                                               "conversationId",
                                               "isRead",
                                               "isDraft",
                                               "webLink",
                                               "inferenceClassification",
                                               "body",
                                               "sender",
                                               "from",
                                               "toRecipients",
                                               "ccRecipients",
                                               "bccRecipients",
                                               "replyTo",
                                               "flag",
                                               "categories",
                                               "changeKey",
                                               "uniqueBody",
                                               "internetMessageHeaders"};
  return kProps;
}

// The properties of the attachment base type, the only ones $select takes on a mixed list.
const std::set<std::string>& AttachmentProperties() {
  static const std::set<std::string> kProps = {"id",   "name",     "contentType",
                                               "size", "isInline", "lastModifiedDateTime"};
  return kProps;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    std::string part =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    out.push_back(part);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// An address given as "a@b" or {"name", "address"} as Graph's recipient {"emailAddress": ...}.
std::optional<Json> Recipient(const Json& v) {
  if (v.is_string()) {
    const std::string a = v.get<std::string>();
    return Json{{"emailAddress", {{"name", a.substr(0, a.find('@'))}, {"address", a}}}};
  }
  if (v.is_object() && v.contains("address") && v["address"].is_string()) {
    return Json{
        {"emailAddress",
         {{"name", v.value("name", v["address"].get<std::string>())}, {"address", v["address"]}}}};
  }
  return std::nullopt;
}

// One clause of the supported $filter grammar.
struct Clause {
  std::string property;  // receivedDateTime | hasAttachments
  std::string op;
  TimePoint time;
  bool flag = false;
};

std::optional<std::vector<Clause>> ParseFilter(const std::string& filter, std::string* problem) {
  std::vector<Clause> out;
  std::string rest = filter;
  size_t pos = 0;
  std::vector<std::string> parts;
  while (true) {
    const size_t and_at = rest.find(" and ", pos);
    parts.push_back(
        rest.substr(pos, and_at == std::string::npos ? std::string::npos : and_at - pos));
    if (and_at == std::string::npos) break;
    pos = and_at + 5;
  }
  for (const auto& p : parts) {
    auto words = Split(p, ' ');
    if (words.size() != 3) {
      *problem = fmt::format("unsupported $filter clause '{}'", p);
      return std::nullopt;
    }
    Clause c{words[0], words[1], {}, false};
    if (c.property == "receivedDateTime") {
      static const std::set<std::string> kOps = {"ge", "gt", "le", "lt", "eq"};
      auto t = ParseIso8601(words[2]);
      if (!kOps.count(c.op) || !t) {
        *problem = fmt::format(
            "unsupported $filter clause '{}' (receivedDateTime ge|gt|le|lt|eq <ISO 8601>)", p);
        return std::nullopt;
      }
      c.time = *t;
    } else if (c.property == "hasAttachments") {
      if (c.op != "eq" || (words[2] != "true" && words[2] != "false")) {
        *problem = fmt::format("unsupported $filter clause '{}' (hasAttachments eq true|false)", p);
        return std::nullopt;
      }
      c.flag = words[2] == "true";
    } else {
      *problem = fmt::format(
          "the emulator filters on receivedDateTime and hasAttachments only, "
          "not '{}'",
          c.property);
      return std::nullopt;
    }
    out.push_back(c);
  }
  return out;
}

bool Matches(const GraphEmulator::MailMessage& m, const std::vector<Clause>& clauses) {
  for (const auto& c : clauses) {
    if (c.property == "hasAttachments") {
      if (m.fields.value("hasAttachments", false) != c.flag) return false;
      continue;
    }
    const bool ok = c.op == "ge"   ? m.received >= c.time
                    : c.op == "gt" ? m.received > c.time
                    : c.op == "le" ? m.received <= c.time
                    : c.op == "lt" ? m.received < c.time
                                   : m.received == c.time;
    if (!ok) return false;
  }
  return true;
}

std::optional<size_t> ParseCount(const std::string& text) {
  size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// A small RFC 5322 text for an item attachment's $value.
std::string ItemMime(const GraphEmulator::MailAttachment& a) {
  const Json& item = a.item;
  return fmt::format(
      "From: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
      "charset=utf-8\r\n\r\n{}\r\n",
      item.value("from", "sender@example.com"), item.value("subject", a.name),
      item.value("body", ""));
}

}  // namespace

GraphEmulator::Mailbox* GraphEmulator::FindMailbox(const std::string& key) {
  const std::string k = Lower(key);
  for (auto& box : mailboxes_) {
    if (Lower(box.address) == k || Lower(box.id) == k) return &box;
  }
  return nullptr;
}

Json GraphEmulator::AttachmentJson(const MailAttachment& a, bool with_content) const {
  Json j{{"@odata.type", "#microsoft.graph." + a.kind + "Attachment"},
         {"id", a.id},
         {"lastModifiedDateTime", a.last_modified},
         {"name", a.name},
         {"contentType", a.content_type},
         {"size", a.kind == "item" ? static_cast<int64_t>(ItemMime(a).size()) : a.size},
         {"isInline", a.is_inline}};
  if (a.kind == "file") {
    j["@odata.mediaContentType"] = a.content_type;
    j["contentId"] = nullptr;
    j["contentLocation"] = nullptr;
    // Large attachments are listed without their bytes: they are downloaded from $value.
    if (with_content && a.size <= options_.inline_attachment_limit) {
      if (a.content) {
        j["contentBytes"] = Base64Encode(*a.content);
      } else {
        std::string bytes;
        bytes.reserve(static_cast<size_t>(a.size));
        for (int64_t i = 0; i < a.size; ++i) bytes += a.pattern[i % a.pattern.size()];
        j["contentBytes"] = Base64Encode(bytes);
      }
    }
  }
  return j;
}

std::optional<std::string> GraphEmulator::SeedMailbox(const Json& m) {
  if (!m.is_object() || !m.contains("address") || !m["address"].is_string() ||
      m["address"].get<std::string>().empty()) {
    return "each graph mailbox needs an address";
  }
  for (const auto& [k, v] : m.items()) {
    if (k != "address" && k != "id" && k != "messages") {
      return "unknown graph mailbox key '" + k + "' (known: address, id, messages)";
    }
  }
  const std::string address = m["address"].get<std::string>();
  const TimePoint now = clock().Now();
  std::vector<MailMessage> messages;
  int counter = 0;
  for (const auto& s : m.value("messages", Json::array())) {
    if (!s.is_object()) return "each graph message must be an object";
    ++counter;
    MailMessage msg;
    msg.folder = Lower(s.value("folder", "inbox"));
    const std::string received = s.value("receivedDateTime", FormatIso8601(now));
    auto t = ParseIso8601(received);
    if (!t) return "graph message receivedDateTime is not ISO 8601: " + received;
    msg.received = *t;
    const std::string id =
        s.value("id", fmt::format("AAMkAD{}-{}", Sha256Hex(address).substr(0, 12),
                                  DefaultRandom().Uuid4().substr(0, 8) + std::to_string(counter)));
    auto from = Recipient(s.value("from", Json("sender@example.com")));
    if (!from) return "graph message from must be an address or {name, address}";
    Json to = Json::array();
    for (const auto& r : s.value("toRecipients", Json::array({address}))) {
      auto rec = Recipient(r);
      if (!rec) return "graph message toRecipients must hold addresses";
      to.push_back(*rec);
    }
    Json body = s.value("body", Json(""));
    if (body.is_string()) body = {{"contentType", "text"}, {"content", body}};
    if (!body.is_object() || !body.contains("content") || !body["content"].is_string()) {
      return "graph message body must be a string or {contentType, content}";
    }
    std::vector<MailAttachment> attachments;
    int att_counter = 0;
    for (const auto& a : s.value("attachments", Json::array())) {
      if (!a.is_object() || !a.contains("name") || !a["name"].is_string()) {
        return "each graph attachment needs a name";
      }
      MailAttachment att;
      att.kind = a.value("kind", "file");
      if (att.kind != "file" && att.kind != "item" && att.kind != "reference") {
        return "graph attachment kind must be file, item or reference";
      }
      att.id = a.value("id", fmt::format("AAMkAtt{}-{}", counter, ++att_counter));
      att.name = a["name"].get<std::string>();
      att.content_type = a.value(
          "contentType", att.kind == "item" ? "message/rfc822" : "application/octet-stream");
      att.is_inline = a.value("isInline", false);
      att.last_modified = FormatIso8601(msg.received);
      if (att.kind == "item") {
        att.item = a.value("item", Json::object());
      } else if (a.contains("contentBytes")) {
        auto bytes = a["contentBytes"].is_string()
                         ? Base64Decode(a["contentBytes"].get<std::string>())
                         : std::nullopt;
        if (!bytes) return "graph attachment contentBytes must be base64";
        att.content = std::move(*bytes);
        att.size = static_cast<int64_t>(att.content->size());
      } else if (a.contains("content")) {
        if (!a["content"].is_string()) return "graph attachment content must be a string";
        att.content = a["content"].get<std::string>();
        att.size = static_cast<int64_t>(att.content->size());
      } else if (a.contains("generate")) {
        const Json& g = a["generate"];
        if (!g.is_object() || !g.contains("size") || !g["size"].is_number_integer() ||
            g["size"].get<int64_t>() < 0) {
          return "graph attachment generate needs {\"size\": bytes, \"pattern\"?: text}";
        }
        att.size = g["size"].get<int64_t>();
        att.pattern = g.value("pattern", "VMRay-emulator-attachment\n");
        if (att.pattern.empty()) return "graph attachment generate pattern must not be empty";
      } else if (att.kind == "file") {
        return "graph file attachment " + att.name + " needs contentBytes, content or generate";
      }
      attachments.push_back(std::move(att));
    }
    bool has_attachments = false;
    for (const auto& a : attachments) has_attachments = has_attachments || !a.is_inline;
    const std::string when = FormatIso8601(msg.received);
    const std::string content = body["content"].get<std::string>();
    msg.fields = {
        {"id", id},
        {"@odata.etag", "W/\"CQAAABYAAAC" + Sha256Hex(id).substr(0, 10) + "\""},
        {"createdDateTime", when},
        {"lastModifiedDateTime", when},
        {"receivedDateTime", when},
        {"sentDateTime", s.value("sentDateTime", when)},
        {"hasAttachments", has_attachments},
        {"internetMessageId", s.value("internetMessageId", "<" + id + "@emulator.example>")},
        {"subject", s.value("subject", "")},
        {"bodyPreview", content.substr(0, 255)},
        {"importance", s.value("importance", "normal")},
        {"parentFolderId", msg.folder},
        {"conversationId", "AAQkAD" + Sha256Hex(id).substr(0, 16)},
        {"isRead", false},
        {"isDraft", false},
        {"webLink", "https://outlook.office365.com/owa/?ItemID=" + id},
        {"inferenceClassification", "focused"},
        {"body", body},
        {"sender", *from},
        {"from", *from},
        {"toRecipients", to},
        {"ccRecipients", Json::array()},
        {"bccRecipients", Json::array()},
        {"replyTo", Json::array()},
        {"flag", {{"flagStatus", "notFlagged"}}},
        {"categories", Json::array()},
        {"changeKey", "CQAAABYAAAC" + Sha256Hex(id).substr(10, 10)}};
    msg.attachments = std::move(attachments);
    messages.push_back(std::move(msg));
  }
  std::lock_guard lock(state_mutex());
  Mailbox* box = FindMailbox(address);
  if (!box) {
    mailboxes_.push_back(
        {address, m.value("id", DefaultRandom().Uuid4()), std::vector<MailMessage>{}});
    box = &mailboxes_.back();
  }
  for (auto& msg : messages) box->messages.push_back(std::move(msg));
  return std::nullopt;
}

void GraphEmulator::HandleMailbox(const httplib::Request& req, httplib::Response& res) {
  if (req.method != "GET") {
    return AssertionFailed(
        req, res,
        fmt::format("method {} is not allowed on {} (the emulator reads mail: GET)", req.method,
                    req.path));
  }
  // users/{mailbox}[/mailFolders/{folder}]/messages[/{message}[/attachments[/{att}[/$value]]]]
  const auto parts = Split(req.path.substr(std::string_view("/v1.0/").size()), '/');
  std::string mailbox_key = parts[1];
  size_t i = 2;
  std::optional<std::string> folder;
  if (parts[i] == "mailFolders") {
    folder = Lower(parts[i + 1]);
    i += 2;
  }
  ++i;  // "messages"
  std::optional<std::string> message_id, attachment_id;
  bool attachments = false, value = false;
  if (i < parts.size()) message_id = parts[i++];
  if (i < parts.size()) {
    if (parts[i] != "attachments") {
      return AssertionFailed(req, res,
                             fmt::format("no route GET {} in the Graph emulator (emulated: "
                                         "messages, messages/{{id}}, .../attachments, "
                                         ".../attachments/{{id}}, .../attachments/{{id}}/$value)",
                                         req.path));
    }
    attachments = true;
    ++i;
  }
  if (i < parts.size()) attachment_id = parts[i++];
  if (i < parts.size()) {
    if (parts[i] != "$value" || i + 1 != parts.size()) {
      return AssertionFailed(req, res,
                             fmt::format("no route GET {} in the Graph emulator", req.path));
    }
    value = true;
  }
  if ((message_id && message_id->empty()) || (attachment_id && attachment_id->empty())) {
    return AssertionFailed(req, res, "empty id in " + req.path);
  }
  const bool listing = !message_id;
  const std::set<std::string> allowed_params =
      listing ? std::set<std::string>{"$filter", "$orderby", "$top", "$select", "$skip"}
      : (attachments && !attachment_id) ? std::set<std::string>{"$select"}
      : (!attachments)                  ? std::set<std::string>{"$select"}
                                        : std::set<std::string>{};
  for (const auto& [k, v] : req.params) {
    if (!allowed_params.count(k)) {
      return AssertionFailed(req, res,
                             fmt::format("unexpected query parameter '{}' on GET {}", k, req.path));
    }
  }

  std::lock_guard lock(state_mutex());
  if (!Authenticate(req, res)) return;
  // What Exchange answers an app without a mail read permission.
  if (!RequireRole(req, res, {"Mail.Read", "Mail.ReadWrite"}, "ErrorAccessDenied",
                   "Access is denied. Check credentials and try again.")) {
    return;
  }
  Mailbox* box = FindMailbox(mailbox_key);
  if (!box) {
    return SendError(res, 404, "ErrorInvalidUser",
                     fmt::format("The requested user '{}' is invalid.", mailbox_key));
  }
  auto in_folder = [&](const MailMessage& m) { return !folder || m.folder == *folder; };
  const std::string user_context = BaseUrl() + "/v1.0/$metadata#users('" + mailbox_key + "')";

  if (listing) {
    std::vector<Clause> clauses;
    if (req.has_param("$filter")) {
      std::string problem;
      auto parsed = ParseFilter(req.get_param_value("$filter"), &problem);
      if (!parsed) return AssertionFailed(req, res, problem);
      clauses = std::move(*parsed);
    }
    bool descending = true;  // Graph lists newest first unless told otherwise
    if (req.has_param("$orderby")) {
      auto words = Split(req.get_param_value("$orderby"), ' ');
      if (words.empty() || words[0] != "receivedDateTime" || words.size() > 2 ||
          (words.size() == 2 && words[1] != "asc" && words[1] != "desc")) {
        return AssertionFailed(req, res, "the emulator sorts by receivedDateTime [asc|desc] only");
      }
      descending = words.size() == 2 && words[1] == "desc";
      if (!clauses.empty() && clauses.front().property != "receivedDateTime") {
        return SendError(res, 400, "InefficientFilter",
                         "The restriction or sort order is too complex for this operation.");
      }
    }
    size_t top = 10, skip = 0;
    if (req.has_param("$top")) {
      auto n = ParseCount(req.get_param_value("$top"));
      if (!n || *n < 1 || *n > 1000) {
        return SendError(res, 400, "BadRequest",
                         "Invalid value '" + req.get_param_value("$top") + "' for $top.");
      }
      top = *n;
    }
    if (req.has_param("$skip")) {
      auto n = ParseCount(req.get_param_value("$skip"));
      if (!n) return SendError(res, 400, "BadRequest", "Invalid value for $skip.");
      skip = *n;
    }
    std::vector<std::string> select;
    if (req.has_param("$select")) {
      for (const auto& p : Split(req.get_param_value("$select"), ',')) {
        if (!MessageProperties().count(p)) {
          return SendError(
              res, 400, "RequestBroker--ParseUri",
              fmt::format("Could not find a property named '{}' on type 'microsoft.graph.message'.",
                          p));
        }
        select.push_back(p);
      }
    }
    std::vector<const MailMessage*> found;
    for (const auto& m : box->messages) {
      if (in_folder(m) && Matches(m, clauses)) found.push_back(&m);
    }
    std::stable_sort(found.begin(), found.end(), [&](const MailMessage* a, const MailMessage* b) {
      return descending ? a->received > b->received : a->received < b->received;
    });
    Json value = Json::array();
    for (size_t k = skip; k < found.size() && k < skip + top; ++k) {
      if (select.empty()) {
        value.push_back(found[k]->fields);
        continue;
      }
      Json m{{"@odata.etag", found[k]->fields["@odata.etag"]}, {"id", found[k]->fields["id"]}};
      for (const auto& p : select) m[p] = found[k]->fields.value(p, Json());
      value.push_back(std::move(m));
    }
    Json out{{"@odata.context", user_context + "/messages"}, {"value", value}};
    if (skip + top < found.size()) {
      std::vector<std::pair<std::string, std::string>> q;
      for (const auto& [k, v] : req.params) {
        if (k != "$skip") q.emplace_back(k, v);
      }
      q.emplace_back("$skip", std::to_string(skip + top));
      out["@odata.nextLink"] = BaseUrl() + req.path + "?" + http::EncodeQuery(q);
    }
    return SendJson(res, 200, out);
  }

  MailMessage* message = nullptr;
  for (auto& m : box->messages) {
    if (in_folder(m) && m.fields["id"] == *message_id) message = &m;
  }
  if (!message) {
    return SendError(res, 404, "ErrorItemNotFound",
                     "The specified object was not found in the store.");
  }
  if (!attachments) {
    Json out = message->fields;
    if (req.has_param("$select")) {
      out = {{"@odata.etag", message->fields["@odata.etag"]}, {"id", message->fields["id"]}};
      for (const auto& p : Split(req.get_param_value("$select"), ',')) {
        if (!MessageProperties().count(p)) {
          return SendError(
              res, 400, "RequestBroker--ParseUri",
              fmt::format("Could not find a property named '{}' on type 'microsoft.graph.message'.",
                          p));
        }
        out[p] = message->fields.value(p, Json());
      }
    }
    out["@odata.context"] = user_context + "/messages/$entity";
    return SendJson(res, 200, out);
  }
  if (!attachment_id) {
    std::vector<std::string> select;
    if (req.has_param("$select")) {
      for (const auto& p : Split(req.get_param_value("$select"), ',')) {
        if (!AttachmentProperties().count(p)) {
          return SendError(res, 400, "RequestBroker--ParseUri",
                           fmt::format("Could not find a property named '{}' on type "
                                       "'microsoft.graph.attachment'.",
                                       p));
        }
        select.push_back(p);
      }
    }
    Json value = Json::array();
    for (const auto& a : message->attachments) {
      Json full = AttachmentJson(a, select.empty());
      if (select.empty()) {
        value.push_back(std::move(full));
        continue;
      }
      Json picked{{"@odata.type", full["@odata.type"]}, {"id", full["id"]}};
      if (full.contains("@odata.mediaContentType"))
        picked["@odata.mediaContentType"] = full["@odata.mediaContentType"];
      for (const auto& p : select) picked[p] = full[p];
      value.push_back(std::move(picked));
    }
    return SendJson(
        res, 200,
        {{"@odata.context", user_context + "/messages('" + *message_id + "')/attachments"},
         {"value", value}});
  }
  const MailAttachment* att = nullptr;
  for (const auto& a : message->attachments) {
    if (a.id == *attachment_id) att = &a;
  }
  if (!att) {
    return SendError(res, 404, "ErrorItemNotFound",
                     "The specified object was not found in the store.");
  }
  if (!value) {
    Json out = AttachmentJson(*att, true);
    out["@odata.context"] = user_context + "/messages('" + *message_id + "')/attachments/$entity";
    return SendJson(res, 200, out);
  }
  if (att->kind == "reference") {
    return SendError(res, 405, "ErrorInvalidRequest",
                     "The $value of a reference attachment cannot be read.");
  }
  if (att->kind == "item") return res.set_content(ItemMime(*att), "message/rfc822");
  if (att->content) return res.set_content(*att->content, att->content_type);
  // Generated bytes are produced piece by piece while they are sent: a 100 MB attachment never
  // exists in memory here either.
  const std::string pattern = att->pattern;
  res.set_content_provider(static_cast<size_t>(att->size), att->content_type,
                           [pattern](size_t offset, size_t length, httplib::DataSink& sink) {
                             std::string piece;
                             const size_t n = std::min<size_t>(length, 64 * 1024);
                             piece.reserve(n);
                             for (size_t k = 0; k < n; ++k)
                               piece += pattern[(offset + k) % pattern.size()];
                             return sink.write(piece.data(), piece.size());
                           });
}

}  // namespace vc::emu
