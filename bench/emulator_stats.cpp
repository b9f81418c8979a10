#include "emulator_stats.hpp"

#include "app/emulator_process.hpp"

namespace vc::bench {

int64_t CallCounts::Route(const std::string& key) const {
  auto it = routes.find(key);
  return it == routes.end() ? 0 : it->second;
}

int64_t CallCounts::Service(const std::string& service) const {
  auto it = by_service.find(service);
  return it == by_service.end() ? 0 : it->second;
}

CallCounts CallCounts::Since(const CallCounts& earlier) const {
  CallCounts d;
  for (const auto& [k, v] : routes) {
    if (const int64_t n = v - earlier.Route(k); n != 0) d.routes[k] = n;
  }
  for (const auto& [k, v] : by_service) d.by_service[k] = v - earlier.Service(k);
  d.total = total - earlier.total;
  d.assertions = assertions - earlier.assertions;
  return d;
}

Result<CallCounts> FetchCallCounts(const Json& endpoints) {
  CallCounts counts;
  for (const auto& [service, url] : endpoints.items()) {
    if (!url.is_string()) continue;
    VC_ASSIGN_OR_RETURN(Json stats, app::GetJson(url.get<std::string>() + "/_emulator/stats"));
    if (!stats.is_object() || !stats.contains("routes")) {
      return MakeError(
          ErrorCode::kProtocol,
          "the " + service + " emulator has no /_emulator/stats route; rebuild vmray-emulators");
    }
    for (const auto& [route, n] : stats["routes"].items()) {
      counts.routes[service + " " + route] = n.get<int64_t>();
    }
    counts.by_service[service] = stats.value("calls", int64_t{0});
    counts.total += stats.value("calls", int64_t{0});
    counts.assertions += stats.value("assertions", int64_t{0});
  }
  return counts;
}

}  // namespace vc::bench
