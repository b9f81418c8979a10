#include <fmt/format.h>

#include <unistd.h>

#include "config/sources.hpp"
#include "core/polling.hpp"

namespace vc::config {
namespace {

const Setting& Get(const Collected& in, std::string_view path) {
  return in.settings.find(path)->second;
}

// A key that already has a problem is not judged again on its stale earlier value.
bool HasProblem(const Collected& in, std::string_view path) {
  for (const auto& problem : in.problems) {
    if (problem.path == path) return true;
  }
  return false;
}

bool IsUnset(const Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return text->empty();
  return false;
}

std::string HowToSet(const KeySpec& spec) {
  std::string names = SystematicEnvName(spec.path);
  if (!spec.original_name.empty()) names += fmt::format(" or {}", spec.original_name);
  return fmt::format("set {} (or {} in the configuration file)", names, spec.path);
}

std::string RequiredBecause(std::string_view condition_path, const Setting& condition) {
  if (condition.source == "default") {
    return fmt::format("required because {} is true by default", condition_path);
  }
  return fmt::format("required because {} is true ({})", condition_path, condition.source);
}

}  // namespace

void CheckRules(Collected& out) {
  for (const auto& spec : Schema()) {
    if (spec.required_when.empty()) continue;
    const Setting& condition = Get(out, spec.required_when);
    if (!std::get<bool>(condition.value) || !IsUnset(Get(out, spec.path).value) ||
        HasProblem(out, spec.path)) {
      continue;
    }
    out.problems.push_back(
        {std::string(spec.path), RequiredBecause(spec.required_when, condition),
         fmt::format("missing; {}, or set {} = false", HowToSet(spec), spec.required_when)});
  }

  // The feed uses the same app registration as Defender; without Defender nothing else asks
  // for it.
  if (std::get<bool>(Get(out, "feed.enabled").value)) {
    for (const char* key : {"azure.tenant_id", "azure.client_id", "azure.client_secret"}) {
      if (!IsUnset(Get(out, key).value) || HasProblem(out, key)) continue;
      if (std::get<bool>(Get(out, "defender.enabled").value)) continue;  // reported above
      out.problems.push_back(
          {key, "required because feed.enabled is true",
           fmt::format("missing; {}, or set feed.enabled = false", HowToSet(*FindKey(key)))});
    }
    const Setting& polling = Get(out, "feed.polling");
    if (!HasProblem(out, "feed.polling") && !ParsePolling(std::get<std::string>(polling.value))) {
      out.problems.push_back(
          {"feed.polling", polling.source,
           fmt::format("'{}' is no interval schedule; use one of the original's (*/5 * * * *, "
                       "*/10 * * * *, 0 * * * *, 0 */6 * * *, 0 */12 * * *, 0 0 * * *) or an "
                       "interval like 15m or 2h",
                       std::get<std::string>(polling.value))});
    }
  }

  const Setting& connect = Get(out, "http.connect_timeout_seconds");
  const Setting& request = Get(out, "http.request_timeout_seconds");
  if (!HasProblem(out, "http.connect_timeout_seconds") &&
      !HasProblem(out, "http.request_timeout_seconds") &&
      std::get<int64_t>(connect.value) > std::get<int64_t>(request.value)) {
    out.problems.push_back(
        {"http.connect_timeout_seconds", connect.source,
         fmt::format("{} s is longer than http.request_timeout_seconds ({} s, {}); the connect "
                     "timeout must not exceed the whole request's",
                     std::get<int64_t>(connect.value), std::get<int64_t>(request.value),
                     request.source)});
  }

  const Setting& store = Get(out, "store.path");
  if (IsUnset(store.value) && !HasProblem(out, "store.path")) {
    out.problems.push_back({"store.path", store.source,
                            "must not be empty; name the SQLite database file, e.g. "
                            "/var/lib/vmray-connector/state.db"});
  }

  // The mail transport decides which of its settings are needed.
  if (std::get<bool>(Get(out, "mail.enabled").value) && !HasProblem(out, "mail.transport")) {
    const bool graph = std::get<std::string>(Get(out, "mail.transport").value) == "graph";
    const char* needed = graph ? "mail.graph_sender" : "mail.smtp_url";
    const Setting& setting = Get(out, needed);
    if (IsUnset(setting.value) && !HasProblem(out, needed)) {
      out.problems.push_back(
          {needed, setting.source,
           graph ? std::string("missing; name the mailbox that sends (user principal name or "
                               "object id; the app needs the Graph permission Mail.Send), or "
                               "set mail.transport = smtp")
                 : std::string("missing; give the SMTP server (smtp://host:587 or "
                               "smtps://host:465), or set mail.transport = graph, or set "
                               "mail.enabled = false")});
    }
  }

  const Setting& ca_file = Get(out, "http.ca_file");
  const auto& ca_path = std::get<std::string>(ca_file.value);
  if (!ca_path.empty() && ::access(ca_path.c_str(), R_OK) != 0) {
    out.problems.push_back({"http.ca_file", ca_file.source,
                            fmt::format("cannot read the CA file \"{}\"; give the path of a "
                                        "readable PEM file or leave it empty",
                                        ca_path)});
  }

  const Setting& insecure = Get(out, "http.insecure_skip_tls_verify");
  if (std::get<bool>(insecure.value)) {
    out.warnings.push_back(fmt::format(
        "http.insecure_skip_tls_verify is true ({}): TLS certificates are not verified, so "
        "secrets can be intercepted; use it for tests only",
        insecure.source));
  }
}

}  // namespace vc::config
