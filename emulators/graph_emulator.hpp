// Microsoft Graph emulator (v1.0): sendMail (graph_mail.cpp), mailbox reading (messages and
// their attachments, graph_mailbox.cpp) and security incidents: GET
// /v1.0/security/incidents/{id},
// PATCH of customTags (the list is replaced as a whole, as in Graph) and POST of an
// alertComment to /v1.0/security/incidents/{id}/comments. The incident answers carry
// customTags[] and comments[] so a client can read what is there before it writes.
//
// Incidents exist for the incidentIds of the alerts the MDE emulator holds (an incident is
// made the first time it is asked for), and for any seeded here. Tokens must be issued for
// https://graph.microsoft.com: an MDE token is answered 401, as Graph does.
//
// Strict: another route, method, query parameter or a body a correct client would not send is
// an assertion failure. Errors use Graph's envelope {"error":{"code","message","innerError"}}.
#pragma once

#include <functional>
#include <map>

#include "emulator_server.hpp"
#include "token_registry.hpp"

namespace vc::emu {

class GraphEmulator final : public EmulatorServer {
 public:
  struct Options {
    // Token audiences (resource, no trailing slash) Graph accepts.
    std::vector<std::string> audiences = {"https://graph.microsoft.com"};
    // File attachments larger than this are listed without contentBytes (their bytes come from
    // .../attachments/{id}/$value), so a listing never carries a 100 MB attachment inline.
    int64_t inline_attachment_limit = 3 * 1024 * 1024;
    // {"audiences": [...], "inline_attachment_limit": n}; unknown keys or wrong types throw
    // std::invalid_argument.
    static Options FromJson(const Json& j);
  };
  // Whether an incident id is known elsewhere (the MDE emulator's alerts).
  using IncidentLookup = std::function<bool(int64_t incident_id)>;

  GraphEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // Seed: {"incidents": [{"id": 4242, "customTags": ["analyst-tag"], "comments": [{"comment":
  // "...", "createdByDisplayName": "..."}]}], "mailboxes": [<mailbox>]}. An incident id that
  // exists already is replaced. A mailbox is {"address": "soc@contoso.com", "id"?: "<guid>",
  // "messages": [<message>]} (graph_mailbox.cpp); messages are added to a mailbox seeded before.
  std::optional<std::string> Seed(const Json& seed) override;
  // {"incidents": [{"id", "displayName", "customTags", "comments", ...}] by id, "sent_mail":
  // [{"mailbox", "form": "mime"|"json", "message_id", "subject", "to", "mime" | "message"}],
  // "mailboxes": [{"address", "id", "messages": [<message as Graph lists it, with
  // "attachments": [<attachment without contentBytes>]>]}]}.
  Json StateJson() const override;
  void ResetState() override;

  void SetIncidentLookup(IncidentLookup lookup);
  const Options& options() const { return options_; }

 protected:
  void RegisterRoutes() override;
  std::string FaultBody(int status) const override;

 private:
  void Handle(const httplib::Request& req, httplib::Response& res);
  // POST /v1.0/users/{id}/sendMail (graph_mail.cpp).
  void HandleSendMail(const httplib::Request& req, httplib::Response& res);
  // GET /v1.0/users/{id}[/mailFolders/{folder}]/messages[/{id}[/attachments[/{id}[/$value]]]]
  // (graph_mailbox.cpp).
  void HandleMailbox(const httplib::Request& req, httplib::Response& res);
  std::optional<std::string> SeedMailbox(const Json& mailbox);
  bool Authenticate(const httplib::Request& req, httplib::Response& res);
  // 403 unless the (valid) token's roles hold one of `accepted`: the application permission the
  // route needs, granted by the Entra emulator's graph_granted_roles.
  bool RequireRole(const httplib::Request& req, httplib::Response& res,
                   std::initializer_list<std::string_view> accepted, std::string_view code,
                   const std::string& message);
  // The incident, made from the MDE alerts on first use; null when there is none.
  Json* Find(int64_t id);
  Json NewIncident(int64_t id) const;
  void SendError(httplib::Response& res, int status, std::string_view code,
                 const std::string& message) const;
  Json IncidentBody(const Json& incident) const;

  Options options_;
  TokenRegistry& tokens_;
  IncidentLookup lookup_;
  // Under state_mutex().
  std::map<int64_t, Json> incidents_;
  Json sent_mail_ = Json::array();  // what sendMail accepted, oldest first

 public:
  // One attachment of a seeded mail. The bytes are either given (`content`) or generated
  // (`size` bytes of `pattern` repeated), so a 100 MB attachment costs a few bytes of seed and
  // of memory and is streamed out when downloaded.
  struct MailAttachment {
    std::string id;
    std::string kind;  // "file", "item" or "reference"
    std::string name;
    std::string content_type;
    bool is_inline = false;
    std::optional<std::string> content;
    std::string pattern;
    int64_t size = 0;
    Json item;  // an item attachment's message ({"subject", "from", "body"})
    std::string last_modified;
  };
  struct MailMessage {
    Json fields;         // the Graph message resource, without attachments
    std::string folder;  // lower-case folder name or id ("inbox")
    TimePoint received;
    std::vector<MailAttachment> attachments;
  };
  struct Mailbox {
    std::string address;
    std::string id;
    std::vector<MailMessage> messages;  // in seed order
  };

 private:
  Mailbox* FindMailbox(const std::string& key);
  Json AttachmentJson(const MailAttachment& a, bool with_content) const;
  std::vector<Mailbox> mailboxes_;  // under state_mutex()
};

}  // namespace vc::emu
