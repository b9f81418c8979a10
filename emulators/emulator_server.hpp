// The common half of every emulator: an HTTP server on 127.0.0.1 and port 0, a call log,
// strict-assertion recording, fault injection and the /_emulator control routes. A service
// emulator (VMRay, MDE, Entra, ...) derives from it and adds the service's own routes and state.
//
// Strictness: a request the real service would not accept from a correct client (unknown route,
// wrong method, missing api-version, wrong body shape) is answered 400 with a body starting
// "emulator assertion failed" and recorded, so the test that caused it fails.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"

namespace vc::emu {

struct CallRecord {
  int64_t seq = 0;
  std::string method;
  std::string path;
  std::string query;  // raw query string as received, without '?'
  std::string auth;  // the Authorization scheme only ("Bearer", "api_key", "none"); never the value
  std::string content_type;
  std::string body;  // first 64 KiB of the request body
  int status = 0;
  std::string assertion;  // non-empty when the request violated the contract
  int64_t at_ms = 0;
};

// One injected fault. Matching requests (method and path regex) get the action instead of the
// normal answer, `times` times (-1: until cleared).
struct FaultRule {
  std::string method;  // empty: any
  std::string path_regex = ".*";
  int times = 1;
  int status = 503;
  std::string body;  // empty: a service-shaped error body is not added
  std::string content_type = "application/json";
  std::optional<std::string> retry_after;  // header value, seconds or HTTP-date
  int delay_ms = 0;                        // sleep before answering (slow response)
  bool malformed = false;                  // 200 with a truncated JSON body
  bool drop_connection = false;            // close the connection mid-response
  bool pass_through = false;               // only delay, then answer normally
  // Let the service act on the request, then cut the answer mid-body: the client cannot tell
  // whether it happened (a submission stored, a comment written, but the reply lost).
  bool cut_after_handling = false;
};

Json FaultRuleToJson(const FaultRule& rule);
std::optional<FaultRule> FaultRuleFromJson(const Json& j, std::string* problem);

class EmulatorServer {
 public:
  EmulatorServer(std::string name, Clock& clock);
  virtual ~EmulatorServer();
  EmulatorServer(const EmulatorServer&) = delete;
  EmulatorServer& operator=(const EmulatorServer&) = delete;

  // Binds 127.0.0.1 on a free port and serves on a background thread. Returns the port.
  int Start();
  void Stop();
  int port() const { return port_; }
  std::string BaseUrl() const;
  const std::string& name() const { return name_; }

  std::vector<CallRecord> Calls() const;
  // Number of recorded calls with this method (empty: any) whose path matches the regex.
  size_t CountCalls(const std::string& method, const std::string& path_regex) const;
  std::vector<std::string> AssertionFailures() const;
  void ClearCalls();
  // Call counts per route ("GET /rest/sample/{id}/vtis": ids and hashes folded), kept apart from
  // the call log so a benchmark can read them cheaply: {"calls": n, "assertions": n,
  // "routes": {"<METHOD> <path template>": n}}. Cleared with the call log.
  Json StatsJson() const;

  void AddFault(FaultRule rule);
  void ClearFaults();

  // Service state, as JSON, for tests and the control routes.
  virtual Json StateJson() const = 0;
  // Merges seed data into the state; returns a problem description on bad seed input.
  virtual std::optional<std::string> Seed(const Json& seed) = 0;
  virtual void ResetState() = 0;

 protected:
  // Register the service's routes with On(). Called once by Start(), before the catch-all.
  virtual void RegisterRoutes() = 0;
  // Body of an injected fault when FaultRule::body is empty (service-shaped error envelope).
  virtual std::string FaultBody(int status) const;
  // Same, for an emulator that serves two APIs with different error envelopes on one port.
  virtual std::string FaultBodyFor(const httplib::Request& req, int status) const;

  // Registers a route whose injected faults are answered inside the handler, after the server
  // has read the request body. (A fault answered in the pre-routing hook left a POST body unread
  // on a kept-alive connection; the server then parsed it as the next request and logged a 400,
  // which made the contract tests that resend a multipart submission flaky.)
  void On(std::string_view method, const std::string& pattern, httplib::Server::Handler handler);
  Clock& clock() const { return clock_; }
  std::mutex& state_mutex() const { return state_mu_; }

  // Answers 400 "emulator assertion failed: <reason>" and records the reason.
  void AssertionFailed(const httplib::Request& req, httplib::Response& res,
                       const std::string& reason);
  static void SendJson(httplib::Response& res, int status, const Json& body);

 private:
  void RegisterControlRoutes();
  httplib::Server::HandlerResponse ApplyFaults(const httplib::Request& req, httplib::Response& res);
  void Record(const httplib::Request& req, const httplib::Response& res);
  static void CutIfAsked(httplib::Response& res);

  std::string name_;
  Clock& clock_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex state_mu_;

  mutable std::mutex log_mu_;
  std::vector<CallRecord> calls_;
  std::vector<std::string> assertions_;
  std::map<std::string, int64_t> route_counts_;
  int64_t next_seq_ = 1;

  std::mutex fault_mu_;
  std::vector<FaultRule> faults_;
};

// Helpers for route handlers.
std::string HeaderOr(const httplib::Request& req, const std::string& name,
                     std::string fallback = "");
// Case-insensitive ASCII comparison.
bool IEquals(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);

}  // namespace vc::emu
