// Microsoft Graph security incidents (v1.0, application permission
// SecurityIncident.ReadWrite.All): read an incident with its customTags and comments, replace its
// customTags, and add a comment. The incident ids are MDE's alert incidentId (a number).
//
// Calls go through the shared pipeline (Entra token for https://graph.microsoft.com, retry with
// Retry-After). Graph's {"error":{"code","message","innerError":{"request-id"}}} becomes a
// vc::Error with service "graph".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/pipeline.hpp"

namespace vc::graph {

struct IncidentComment {
  std::string comment;
  std::string created_by;  // createdByDisplayName
  std::optional<TimePoint> created;
};

struct Incident {
  std::string id;
  std::string display_name;
  std::string status;
  std::vector<std::string> custom_tags;
  std::vector<IncidentComment> comments;
};

class IncidentClient {
 public:
  IncidentClient(std::string base_url, std::shared_ptr<http::Pipeline> api);

  // GET /v1.0/security/incidents/{id}. An unknown incident is kNotFound.
  Result<Incident> GetIncident(const std::string& incident_id);
  // PATCH /v1.0/security/incidents/{id} {"customTags": [...]}. Graph replaces the whole list:
  // callers read, merge and send everything that should remain. Safe to repeat.
  Result<Incident> SetCustomTags(const std::string& incident_id,
                                 const std::vector<std::string>& tags);
  // POST /v1.0/security/incidents/{id}/comments with an alertComment. Not safe to repeat
  // blindly (a second comment): the retry policy resends it only when it provably never arrived.
  Status AddComment(const std::string& incident_id, const std::string& comment);

  const std::string& base_url() const { return base_url_; }

 private:
  Result<Json> Call(http::Request request, const std::string& what);
  Result<http::Request> Make(http::Method method, const std::string& incident_id,
                             const std::string& suffix, const std::string& operation) const;

  std::string base_url_;
  std::shared_ptr<http::Pipeline> api_;
};

Result<Incident> ParseIncident(const Json& j);

}  // namespace vc::graph
