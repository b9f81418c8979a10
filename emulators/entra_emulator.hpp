// Microsoft Entra ID token endpoint emulator (client credentials grant only), v1
// (/{tenant}/oauth2/token, form field `resource`) and v2 (/{tenant}/oauth2/v2.0/token,
// `scope=<resource>/.default`). Issued tokens go into the shared TokenRegistry with the resource
// as audience, which is what the service emulators check. Errors have Entra's shape and AADSTS
// codes. The client secret never appears in answers, state or the call log.
//
// Tokens are JWT-shaped with the claims of an Entra app-only access token (aud, iss, tid, appid,
// roles, ver, iat, nbf, exp), so a client can read which application permissions the app holds
// from `roles`, as `vmray-connector doctor` does. The roles of WindowsDefenderATP tokens come
// from `granted_roles`, those of Microsoft Graph tokens from `graph_granted_roles`; tokens for
// other resources carry none.
#pragma once

#include <map>
#include <unordered_set>

#include "emulator_server.hpp"
#include "token_registry.hpp"

namespace vc::emu {

class EntraEmulator final : public EmulatorServer {
 public:
  struct Options {
    std::string tenant_id = "6f1b2c3d-0000-4000-8000-00000000e1e1";
    std::string client_id = "6f1b2c3d-0000-4000-8000-0000000c1e17";
    std::string client_secret = "emu-client-secret-DO-NOT-LOG";
    int token_lifetime_seconds = 3599;
    // Resources (audiences) a token can be requested for, without trailing slash.
    std::vector<std::string> resources = {
        "https://api.securitycenter.microsoft.com",
        "https://api.security.microsoft.com",
        "https://securitycenter.onmicrosoft.com/windowsatpservice",
        "https://management.azure.com",
        "https://management.core.windows.net",
        "https://graph.microsoft.com",
        "https://storage.azure.com",
    };
    // The WindowsDefenderATP API under its three application ID URIs: tokens for these carry
    // `granted_roles` as their roles claim.
    std::vector<std::string> defender_resources = {
        "https://api.securitycenter.microsoft.com",
        "https://api.security.microsoft.com",
        "https://securitycenter.onmicrosoft.com/windowsatpservice",
    };
    // Application permissions granted (with admin consent) on the WindowsDefenderATP API. The
    // default is every one the connector uses: alerts and their comments, machines, Live
    // Response, the Live Response library (quarantined files) and indicators.
    std::vector<std::string> granted_roles = {"Alert.ReadWrite.All", "Machine.Read.All",
                                              "Machine.LiveResponse", "Library.Manage",
                                              "Ti.ReadWrite.All"};
    // Application permissions granted on Microsoft Graph (https://graph.microsoft.com): by
    // default what the connector's Graph features use, incident tags and comments and sendMail.
    std::vector<std::string> graph_granted_roles = {"SecurityIncident.ReadWrite.All", "Mail.Send"};

    // {"tenant_id", "client_id", "client_secret", "token_lifetime_seconds", "resources": [...],
    //  "granted_roles": [...], "graph_granted_roles": [...]}; unknown keys, wrong types and role
    //  names that are not WindowsDefenderATP permissions throw std::invalid_argument.
    static Options FromJson(const Json& j);
  };

  EntraEmulator(Options options, Clock& clock, TokenRegistry& tokens);

  // {"tenant_id", "client_id", "granted_roles": [...], "graph_granted_roles": [...],
  // "tokens_issued": {"<resource>": n},
  //  "errors": {"<error>": n}}
  Json StateJson() const override;
  // {"expire_all_tokens": true} expires every token issued so far (all emulators);
  // {"client_secret": "..."} changes the accepted secret (a rotated secret);
  // {"granted_roles": [...]} changes the roles of tokens issued from now on (a permission granted
  // or removed; tokens already issued keep theirs, as in Entra); {"graph_granted_roles": [...]}
  // the same for Graph tokens.
  std::optional<std::string> Seed(const Json& seed) override;
  void ResetState() override;

  // The client id a token was issued to, if this endpoint issued it.
  std::optional<std::string> ClientIdOf(const std::string& token) const;
  const Options& options() const { return options_; }

 protected:
  void RegisterRoutes() override;
  std::string FaultBody(int status) const override;

 private:
  void HandleToken(const httplib::Request& req, httplib::Response& res, bool v2);
  void SendEntraError(httplib::Response& res, int status, const std::string& error, int aadsts,
                      const std::string& description);

  Options options_;
  TokenRegistry& tokens_;
  // Under state_mutex().
  std::string client_secret_;
  std::vector<std::string> granted_roles_;
  std::vector<std::string> graph_granted_roles_;
  std::map<std::string, int64_t> issued_per_resource_;
  std::map<std::string, int64_t> errors_;
  std::unordered_set<std::string> issued_tokens_;
};

}  // namespace vc::emu
