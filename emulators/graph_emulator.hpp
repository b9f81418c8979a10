// Microsoft Graph emulator (v1.0): sendMail (graph_mail.cpp) and security incidents: GET
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
    // {"audiences": [...]}; unknown keys or wrong types throw std::invalid_argument.
    static Options FromJson(const Json& j);
  };
  // Whether an incident id is known elsewhere (the MDE emulator's alerts).
  using IncidentLookup = std::function<bool(int64_t incident_id)>;

  GraphEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // Seed: {"incidents": [{"id": 4242, "customTags": ["analyst-tag"], "comments": [{"comment":
  // "...", "createdByDisplayName": "..."}]}]}. An id that exists already is replaced.
  std::optional<std::string> Seed(const Json& seed) override;
  // {"incidents": [{"id", "displayName", "customTags", "comments", ...}] by id, "sent_mail":
  // [{"mailbox", "form": "mime"|"json", "message_id", "subject", "to", "mime" | "message"}]}.
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
};

}  // namespace vc::emu
