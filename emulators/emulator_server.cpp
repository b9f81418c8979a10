#include "emulator_server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/redact.hpp"

namespace vc::emu {
namespace {
// Set in the pre-routing handler, read in the post-routing one: httplib runs both on the
// thread that serves the request.
thread_local bool tls_cut_answer = false;
constexpr size_t kMaxRecordedBody = 64 * 1024;
constexpr const char* kAssertionMarker = "X-Emulator-Assertion";

// "/api/machines/7b1f.../runliveresponse" -> "/api/machines/{id}/runliveresponse": a segment
// that is a number, or long and holds a digit (hashes, GUIDs, alert ids), is an id; a function
// call segment keeps its name.
std::string RouteTemplate(const std::string& path) {
  std::string out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view seg(path.data() + start, end - start);
    out.push_back('/');
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    const bool has_digit = std::any_of(seg.begin(), seg.end(), digit);
    const bool all_digits = !seg.empty() && std::all_of(seg.begin(), seg.end(), digit);
    if (auto paren = seg.find('('); paren != std::string_view::npos) {
      out.append(seg.substr(0, paren)).append("(..)");
    } else if (all_digits || (has_digit && seg.size() >= 16)) {
      out.append("{id}");
    } else {
      out.append(seg);
    }
    start = end + 1;
  }
  return out;
}
}  // namespace

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string HeaderOr(const httplib::Request& req, const std::string& name, std::string fallback) {
  return req.has_header(name) ? req.get_header_value(name) : std::move(fallback);
}

Json FaultRuleToJson(const FaultRule& r) {
  Json j{{"method", r.method},
         {"path_regex", r.path_regex},
         {"times", r.times},
         {"status", r.status},
         {"body", r.body},
         {"content_type", r.content_type},
         {"delay_ms", r.delay_ms},
         {"malformed", r.malformed},
         {"drop_connection", r.drop_connection},
         {"pass_through", r.pass_through},
         {"cut_after_handling", r.cut_after_handling}};
  if (r.retry_after) j["retry_after"] = *r.retry_after;
  return j;
}

std::optional<FaultRule> FaultRuleFromJson(const Json& j, std::string* problem) {
  if (!j.is_object()) {
    *problem = "fault must be a JSON object";
    return std::nullopt;
  }
  FaultRule r;
  try {
    r.method = j.value("method", "");
    r.path_regex = j.value("path_regex", ".*");
    r.times = j.value("times", 1);
    r.status = j.value("status", 503);
    r.body = j.value("body", "");
    r.content_type = j.value("content_type", "application/json");
    if (j.contains("retry_after")) {
      const auto& ra = j["retry_after"];
      r.retry_after = ra.is_string() ? ra.get<std::string>() : std::to_string(ra.get<int>());
    }
    r.delay_ms = j.value("delay_ms", 0);
    r.malformed = j.value("malformed", false);
    r.drop_connection = j.value("drop_connection", false);
    r.pass_through = j.value("pass_through", false);
    r.cut_after_handling = j.value("cut_after_handling", false);
    std::regex check(r.path_regex);  // validate now, not on first request
  } catch (const std::exception& e) {
    *problem = std::string("bad fault rule: ") + e.what();
    return std::nullopt;
  }
  return r;
}

EmulatorServer::EmulatorServer(std::string name, Clock& clock)
    : name_(std::move(name)), clock_(clock) {
  // Every keep-alive connection holds a worker thread; the connector runs many workers.
  server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server_.set_keep_alive_max_count(100000);
  // Without it a keep-alive client waits for delayed ACKs (~40 ms a request).
  server_.set_tcp_nodelay(true);
  server_.set_payload_max_length(256 * 1024 * 1024);
}

EmulatorServer::~EmulatorServer() {
  Stop();
}

int EmulatorServer::Start() {
  RegisterControlRoutes();
  RegisterRoutes();
  // Catch-all routes last: anything the service does not define is a contract violation.
  auto unknown = [this](const httplib::Request& req, httplib::Response& res) {
    AssertionFailed(req, res, fmt::format("no route {} {}", req.method, req.path));
  };
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) On(method, ".*", unknown);
  // Recorded before the answer is written (not in the logger, which runs after): a client that
  // has its answer always finds its call in the log.
  server_.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    Record(req, res);
    CutIfAsked(res);
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("emulator " + name_ + ": cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port_;
}

void EmulatorServer::Stop() {
  if (thread_.joinable()) {
    server_.stop();
    thread_.join();
  }
}

void EmulatorServer::On(std::string_view method, const std::string& pattern,
                        httplib::Server::Handler handler) {
  auto faulted = [this, handler = std::move(handler)](const httplib::Request& req,
                                                      httplib::Response& res) {
    if (ApplyFaults(req, res) == httplib::Server::HandlerResponse::Handled) return;
    handler(req, res);
  };
  if (method == "GET") {
    server_.Get(pattern, std::move(faulted));
  } else if (method == "POST") {
    server_.Post(pattern, std::move(faulted));
  } else if (method == "PUT") {
    server_.Put(pattern, std::move(faulted));
  } else if (method == "PATCH") {
    server_.Patch(pattern, std::move(faulted));
  } else if (method == "DELETE") {
    server_.Delete(pattern, std::move(faulted));
  } else {
    throw std::logic_error("emulator route with unsupported method " + std::string(method));
  }
}

std::string EmulatorServer::BaseUrl() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

std::vector<CallRecord> EmulatorServer::Calls() const {
  std::lock_guard lock(log_mu_);
  return calls_;
}

size_t EmulatorServer::CountCalls(const std::string& method, const std::string& path_regex) const {
  std::regex re(path_regex);
  std::lock_guard lock(log_mu_);
  return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(), [&](const CallRecord& c) {
    return (method.empty() || c.method == method) && std::regex_match(c.path, re);
  }));
}

std::vector<std::string> EmulatorServer::AssertionFailures() const {
  std::lock_guard lock(log_mu_);
  return assertions_;
}

void EmulatorServer::ClearCalls() {
  std::lock_guard lock(log_mu_);
  calls_.clear();
  assertions_.clear();
  route_counts_.clear();
}

Json EmulatorServer::StatsJson() const {
  std::lock_guard lock(log_mu_);
  Json routes = Json::object();
  for (const auto& [route, n] : route_counts_) routes[route] = n;
  return {{"calls", calls_.size()}, {"assertions", assertions_.size()}, {"routes", routes}};
}

void EmulatorServer::AddFault(FaultRule rule) {
  std::lock_guard lock(fault_mu_);
  faults_.push_back(std::move(rule));
}

void EmulatorServer::ClearFaults() {
  std::lock_guard lock(fault_mu_);
  faults_.clear();
}

std::string EmulatorServer::FaultBody(int status) const {
  return Json{
      {"error", {{"code", "InjectedFault"}, {"message", fmt::format("injected {}", status)}}}}
      .dump();
}

std::string EmulatorServer::FaultBodyFor(const httplib::Request&, int status) const {
  return FaultBody(status);
}

void EmulatorServer::AssertionFailed(const httplib::Request& req, httplib::Response& res,
                                     const std::string& reason) {
  {
    std::lock_guard lock(log_mu_);
    assertions_.push_back(fmt::format("{} {}: {}", req.method, req.path, reason));
  }
  res.status = 400;
  res.set_header(kAssertionMarker, "1");
  res.set_content("emulator assertion failed: " + reason, "text/plain");
}

void EmulatorServer::SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

httplib::Server::HandlerResponse EmulatorServer::ApplyFaults(const httplib::Request& req,
                                                             httplib::Response& res) {
  if (req.path.rfind("/_emulator/", 0) == 0) return httplib::Server::HandlerResponse::Unhandled;
  std::optional<FaultRule> hit;
  {
    std::lock_guard lock(fault_mu_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (!it->method.empty() && it->method != req.method) continue;
      if (!std::regex_search(req.path, std::regex(it->path_regex))) continue;
      hit = *it;
      if (it->times > 0 && --it->times == 0) faults_.erase(it);
      break;
    }
  }
  if (!hit) return httplib::Server::HandlerResponse::Unhandled;
  if (hit->delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hit->delay_ms));
  if (hit->pass_through) return httplib::Server::HandlerResponse::Unhandled;
  if (hit->cut_after_handling) {
    tls_cut_answer = true;
    return httplib::Server::HandlerResponse::Unhandled;
  }
  if (hit->retry_after) res.set_header("Retry-After", *hit->retry_after);
  if (hit->drop_connection) {
    // Promise a body, send half of it, then abort: the client sees a broken transfer.
    res.status = 200;
    res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink& sink) {
      sink.write("{\"partial\":", 11);
      return false;
    });
    return httplib::Server::HandlerResponse::Handled;
  }
  if (hit->malformed) {
    res.status = 200;
    res.set_content(R"({"result": "ok", "data": {"truncat)", "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }
  res.status = hit->status;
  res.set_content(hit->body.empty() ? FaultBodyFor(req, hit->status) : hit->body,
                  hit->content_type);
  return httplib::Server::HandlerResponse::Handled;
}

void EmulatorServer::CutIfAsked(httplib::Response& res) {
  if (!tls_cut_answer) return;
  tls_cut_answer = false;
  const size_t size = std::max<size_t>(res.body.size(), 16);
  res.body.clear();
  res.set_content_provider(size, "application/json", [](size_t, size_t, httplib::DataSink& sink) {
    sink.write("{\"cut", 5);
    return false;
  });
}

void EmulatorServer::Record(const httplib::Request& req, const httplib::Response& res) {
  if (req.path.rfind("/_emulator/", 0) == 0) return;
  CallRecord c;
  c.method = req.method;
  c.path = req.path;
  if (auto q = req.target.find('?'); q != std::string::npos) c.query = req.target.substr(q + 1);
  const std::string auth = HeaderOr(req, "Authorization", "none");
  c.auth = auth.substr(0, auth.find(' '));
  c.content_type = HeaderOr(req, "Content-Type");
  // Token requests carry client secrets: the log must never hold them, whichever handler answered.
  c.body = c.content_type.rfind("application/x-www-form-urlencoded", 0) == 0
               ? RedactFormBody(req.body.substr(0, kMaxRecordedBody))
               : req.body.substr(0, kMaxRecordedBody);
  c.status = res.status;
  if (res.has_header(kAssertionMarker)) c.assertion = res.body;
  c.at_ms = ToUnixMillis(clock_.Now());
  std::string route = c.method + " " + RouteTemplate(c.path);
  std::lock_guard lock(log_mu_);
  ++route_counts_[route];
  c.seq = next_seq_++;
  calls_.push_back(std::move(c));
}

void EmulatorServer::RegisterControlRoutes() {
  server_.Get("/_emulator/calls", [this](const httplib::Request&, httplib::Response& res) {
    Json out = Json::array();
    for (const auto& c : Calls()) {
      out.push_back({{"seq", c.seq},
                     {"method", c.method},
                     {"path", c.path},
                     {"query", c.query},
                     {"auth", c.auth},
                     {"content_type", c.content_type},
                     {"body", c.body},
                     {"status", c.status},
                     {"assertion", c.assertion},
                     {"at_ms", c.at_ms}});
    }
    SendJson(res, 200, out);
  });
  server_.Delete("/_emulator/calls", [this](const httplib::Request&, httplib::Response& res) {
    ClearCalls();
    res.status = 204;
  });
  server_.Get("/_emulator/stats", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, StatsJson());
  });
  server_.Get("/_emulator/assertions", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, AssertionFailures());
  });
  server_.Get("/_emulator/state", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, StateJson());
  });
  server_.Post("/_emulator/state", [this](const httplib::Request& req, httplib::Response& res) {
    auto j = Json::parse(req.body, nullptr, false);
    if (j.is_discarded()) return SendJson(res, 400, {{"error", "seed is not valid JSON"}});
    if (auto problem = Seed(j)) return SendJson(res, 400, {{"error", *problem}});
    SendJson(res, 200, {{"ok", true}});
  });
  server_.Post("/_emulator/reset", [this](const httplib::Request&, httplib::Response& res) {
    ResetState();
    ClearFaults();
    ClearCalls();
    SendJson(res, 200, {{"ok", true}});
  });
  server_.Post("/_emulator/faults", [this](const httplib::Request& req, httplib::Response& res) {
    auto j = Json::parse(req.body, nullptr, false);
    std::string problem = "faults must be valid JSON";
    if (!j.is_discarded()) {
      std::vector<FaultRule> rules;
      for (const auto& item : j.is_array() ? j : Json::array({j})) {
        auto rule = FaultRuleFromJson(item, &problem);
        if (!rule) return SendJson(res, 400, {{"error", problem}});
        rules.push_back(*rule);
      }
      for (auto& r : rules) AddFault(std::move(r));
      return SendJson(res, 200, {{"ok", true}, {"added", rules.size()}});
    }
    SendJson(res, 400, {{"error", problem}});
  });
  server_.Delete("/_emulator/faults", [this](const httplib::Request&, httplib::Response& res) {
    ClearFaults();
    res.status = 204;
  });
}

}  // namespace vc::emu
