#include "server/enrichment/enrichment_server.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>
#include <regex>

#include "core/redact.hpp"
#include "server/enrichment/function_key.hpp"
#include "server/enrichment/routes.hpp"

namespace vc::enrichment {
namespace {

constexpr std::string_view kApiPrefix = "/api/";
constexpr std::string_view kV1Prefix = "/api/v1/";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void Harden(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
}

}  // namespace

std::string SafeDump(const Json& value) {
  const std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  // Outside strings JSON never holds these characters, so replacing them everywhere only
  // changes how string contents are spelled, not what they are.
  for (char c : text) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  Harden(res);
  res.status = status;
  res.set_content(SafeDump(body), "application/json; charset=utf-8");
}

void SendError(httplib::Response& res, const ApiError& error, Style style) {
  if (error.retry_after_seconds > 0) {
    res.set_header("Retry-After", std::to_string(error.retry_after_seconds));
  }
  if (style == Style::kCompat && error.code == "missing_parameter") {
    Harden(res);
    res.status = 400;
    res.set_content(OriginalMissingText(error.param), "text/plain; charset=utf-8");
    return;
  }
  Json body = {{"error", {{"code", error.code}, {"message", Scrub(error.message)}}}};
  if (!error.param.empty()) body["error"]["parameter"] = error.param;
  SendJson(res, error.status, body);
}

std::variant<Params, ApiError> ParamsOf(const httplib::Request& req, Params::Pairs extra) {
  Params::Pairs pairs = std::move(extra);
  for (const auto& [name, value] : req.params) {
    if (name == "code") continue;  // the function key, not a parameter
    pairs.emplace_back(name, value);
  }
  return Params::From(std::move(pairs), req.get_header_value("Content-Type"), req.body);
}

std::string RouteLabel(const std::string& method, const std::string& path) {
  if (StartsWith(path, kV1Prefix)) {
    static const std::vector<std::pair<std::regex, std::string>> kV1 = {
        {std::regex(R"(/api/v1/submissions/(url|file))"), "/api/v1/submissions/$1"},
        {std::regex(R"(/api/v1/submissions/[^/]+)"), "/api/v1/submissions/{id}"},
        {std::regex(R"(/api/v1/samples/by-hash/[^/]+)"), "/api/v1/samples/by-hash/{hash}"},
        {std::regex(R"(/api/v1/samples/[^/]+)"), "/api/v1/samples/{id}"},
        {std::regex(R"(/api/v1/samples/[^/]+/(vtis|threat-indicators|analyses|iocs))"),
         "/api/v1/samples/{id}/$1"},
    };
    for (const auto& [re, label] : kV1) {
      std::smatch m;
      if (std::regex_match(path, m, re)) return method + " " + m.format(label);
    }
    return "other";
  }
  for (const auto& name : CompatFunctionNames()) {
    if (path.size() == kApiPrefix.size() + name.size() && StartsWith(path, kApiPrefix) &&
        path.compare(kApiPrefix.size(), std::string::npos, name) == 0) {
      return method + " " + path;
    }
  }
  return "other";
}

EnrichmentServer::EnrichmentServer(EnrichmentServerOptions options, vmray::Client& vmray,
                                   Metrics& metrics)
    : options_(std::move(options)), ops_(vmray, options_.operations), metrics_(metrics) {}

EnrichmentServer::~EnrichmentServer() {
  Stop();
}

std::string EnrichmentServer::BaseUrl() const {
  const bool v6 = options_.address.host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", options_.address.host, v6 ? "]" : "",
                     port_);
}

void EnrichmentServer::Routes() {
  // Authentication comes before the body is read, so an unauthenticated upload costs nothing.
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!StartsWith(req.path, kApiPrefix)) return httplib::Server::HandlerResponse::Unhandled;
    std::string presented = req.get_header_value("x-functions-key");
    if (presented.empty()) presented = req.get_param_value("code");
    if (FunctionKeyMatches(presented, options_.function_key)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    Harden(res);
    res.status = 401;
    if (StartsWith(req.path, kV1Prefix)) {
      // The compatible routes answer like Azure Functions: 401 with an empty body.
      SendError(res,
                {401, "unauthorized",
                 "send the function key in the x-functions-key header (or the code query "
                 "parameter)"},
                Style::kV1);
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  RegisterCompatRoutes(*http_, ops_);
  RegisterV1Routes(*http_, ops_);
  // Answers httplib makes itself (unknown path 404, body over the limit 413) get a JSON body.
  http_->set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.status == 401)
          return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{res.status, "error", "the request failed"};
        if (res.status == 404) {
          e = {404, "not_found", "no such route; see docs/enrichment-api.md for the routes"};
        } else if (res.status == 413) {
          e = {413, "body_too_large",
               fmt::format("the request body is larger than {} bytes (enrichment.max_body_bytes)",
                           options_.max_body_bytes)};
        } else if (res.status == 405) {
          e = {405, "method_not_allowed", "this route does not take that method"};
        }
        SendError(res, e, Style::kV1);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_->set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                  std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("enrichment: {} {} failed: {}", req.method, RouteLabel(req.method, req.path),
                    Scrub(e.what()));
    } catch (...) {
      spdlog::error("enrichment: {} failed", RouteLabel(req.method, req.path));
    }
    SendError(res, {500, "internal_error", "the request failed inside the connector; see its log"},
              Style::kV1);
  });
  // Counted before the answer is written, so a caller that has its answer sees it counted.
  http_->set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    metrics_.Inc("vc_enrichment_requests_total", {{"route", RouteLabel(req.method, req.path)},
                                                  {"status", std::to_string(res.status)}});
  });
  // Never the query string: it may carry the function key.
  http_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("enrichment: {} -> {}", RouteLabel(req.method, req.path), res.status);
  });
}

Status EnrichmentServer::Start() {
  VC_RETURN_IF_ERROR(Bind());
  Serve();
  return Ok();
}

void EnrichmentServer::Serve() {
  if (!http_ || thread_.joinable()) return;
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  if (!server::IsLoopback(options_.address)) {
    spdlog::warn(
        "enrichment API on {} is reachable from the network over plain HTTP: put a "
        "TLS-terminating proxy in front of it",
        BaseUrl());
  }
  spdlog::info("enrichment API on {} (/api/<Function> and /api/v1/...)", BaseUrl());
}

Status EnrichmentServer::Bind() {
  if (http_) return Ok();
  if (options_.function_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the enrichment API needs a function key: set enrichment.function_key "
                     "(VMRAY_CONNECTOR_ENRICHMENT_FUNCTION_KEY)");
  }
  http_ = std::make_unique<httplib::Server>();
  const int workers = std::max(1, options_.workers);
  http_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  // As the ops listener: SO_REUSEADDR only, so a second process cannot share the port.
  http_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  // Uploads of large base64 files take a while; VMRay calls take longer than that.
  http_->set_read_timeout(60, 0);
  http_->set_write_timeout(60, 0);
  http_->set_keep_alive_timeout(5);
  Routes();

  errno = 0;
  int port = options_.address.port;
  bool bound = false;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.address.host);
    bound = port > 0;
  } else {
    bound = http_->bind_to_port(options_.address.host, port);
  }
  if (!bound) {
    const int err = errno;
    http_.reset();
    const std::string why = err == EADDRINUSE ? "the port is already in use"
                            : err != 0        ? std::strerror(err)
                                              : "the address cannot be bound";
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("cannot listen on {}:{} for the enrichment API: {}; set "
                                 "enrichment.listen (VMRAY_CONNECTOR_ENRICHMENT_LISTEN) to a free "
                                 "host:port, or enrichment.enabled = false",
                                 options_.address.host, options_.address.port, why));
  }
  port_ = port;
  return Ok();
}

void EnrichmentServer::Stop() {
  if (!http_) return;
  if (!thread_.joinable()) thread_ = std::thread([this] { http_->listen_after_bind(); });
  for (int i = 0; i < 2000 && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  if (thread_.joinable()) thread_.join();
  http_.reset();
}

}  // namespace vc::enrichment
