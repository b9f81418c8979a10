#include "server/readiness.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/redact.hpp"
#include "core/time.hpp"

namespace vc::server {

bool AllReady(const std::vector<ReadinessCheck>& checks) {
  for (const auto& c : checks) {
    if (!c.ok) return false;
  }
  return true;
}

std::string ReadinessJson(const std::vector<ReadinessCheck>& checks) {
  Json list = Json::array();
  for (const auto& c : checks) {
    Json item{{"name", Scrub(c.name)}, {"ok", c.ok}, {"detail", Scrub(c.detail)}};
    if (!c.ok) item["action"] = Scrub(c.action);
    list.push_back(std::move(item));
  }
  Json body{{"ready", AllReady(checks)}, {"checks", std::move(list)}};
  // Invalid UTF-8 in a reason must not make the probe throw.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Millis PollWindow(Millis interval) {
  return interval * 3 + Millis(30'000);
}

ReadinessCheck PollCheck(const std::string& job, std::optional<TimePoint> last_success,
                         std::optional<std::string> last_error, TimePoint now, Millis interval,
                         Millis window) {
  ReadinessCheck c;
  c.name = "poller:" + job;
  const std::string error_note = last_error ? fmt::format("; last error: {}", *last_error) : "";
  if (!last_success) {
    c.ok = false;
    c.detail = "no successful poll since start" + error_note;
    c.action = last_error ? "fix the error above (credentials, permissions, network); "
                            "`vmray-connector doctor` checks each service"
                          : "wait for the first poll; it runs at start";
    return c;
  }
  const auto age = std::chrono::duration_cast<Millis>(now - *last_success);
  const int64_t age_s = std::max<int64_t>(0, age.count() / 1000);
  if (age <= window) {
    c.ok = true;
    c.detail = fmt::format("last successful poll {} s ago (every {} s, window {} s)", age_s,
                           interval.count() / 1000, window.count() / 1000);
    return c;
  }
  c.ok = false;
  c.detail = fmt::format("last successful poll {} s ago, longer than the {} s window{}", age_s,
                         window.count() / 1000, error_note);
  c.action =
      "the poller is failing or stuck: read the log for its errors; `vmray-connector doctor` "
      "checks credentials, permissions and network";
  return c;
}

ReadinessCheck StoreCheck(store::Store& store, TimePoint now) {
  ReadinessCheck c;
  c.name = "store";
  auto written = store.SetCursor("ops.readiness_probe", FormatIso8601(now));
  if (!written) {
    c.ok = false;
    c.detail = fmt::format("cannot write to the store: {}", written.error().ToString());
    c.action =
        "make the store file and its directory writable by the connector and free disk space; "
        "the connector keeps running and retries";
    return c;
  }
  c.ok = true;
  c.detail = "open and writable";
  return c;
}

}  // namespace vc::server
