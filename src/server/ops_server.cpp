#include "server/ops_server.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>

#include "core/redact.hpp"

namespace vc::server {
namespace {

constexpr const char* kPrometheusType = "text/plain; version=0.0.4; charset=utf-8";

void NoStore(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
}

}  // namespace

OpsServer::OpsServer(ListenAddress address, OpsSources sources, Metrics& metrics)
    : address_(std::move(address)),
      sources_(std::move(sources)),
      metrics_(metrics),
      gauges_(metrics) {}

OpsServer::~OpsServer() {
  Stop();
}

std::string OpsServer::BaseUrl() const {
  const bool v6 = address_.host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", address_.host, v6 ? "]" : "", port_);
}

void OpsServer::Routes() {
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    NoStore(res);
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });

  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    NoStore(res);
    const auto checks = sources_.readiness();
    res.status = AllReady(checks) ? 200 : 503;
    res.set_content(ReadinessJson(checks) + "\n", "application/json");
  });

  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    NoStore(res);
    std::lock_guard lock(scrape_mu_);
    if (sources_.store == nullptr) {
      res.status = 503;
      res.set_content("starting\n", "text/plain; charset=utf-8");
      return;
    }
    const bool ready = AllReady(sources_.readiness());
    metrics_.Set("vc_ready", {}, ready ? 1 : 0);
    if (auto s = gauges_.Update(*sources_.store, sources_.clock->Now()); !s) {
      // The process counters are still worth serving; the store problem shows in vc_ready.
      spdlog::warn("ops: reading the store for /metrics failed: {}", s.error().ToString());
    }
    res.set_content(Scrub(metrics_.Serialize()), kPrometheusType);
  });

  http_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    NoStore(res);
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; "
                   "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    if (sources_.store == nullptr) {
      res.status = 503;
      res.set_content("starting\n", "text/plain; charset=utf-8");
      return;
    }
    auto view = CollectStatus(*sources_.store, sources_.clock->Now());
    if (!view) {
      res.status = 503;
      res.set_content(fmt::format("cannot read the store: {}\n", Scrub(view.error().ToString())),
                      "text/plain; charset=utf-8");
      return;
    }
    view->version = sources_.version;
    view->checks = sources_.readiness();
    if (sources_.limiters) view->limiters = sources_.limiters();
    res.set_content(RenderStatusPage(*view), "text/html; charset=utf-8");
  });

  http_->Get("/",
             [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/status"); });
}

Status OpsServer::Start() {
  VC_RETURN_IF_ERROR(Bind());
  Serve();
  return Ok();
}

void OpsServer::Serve(store::Store* store) {
  if (!http_ || thread_.joinable()) return;
  if (store != nullptr) sources_.store = store;
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  if (!IsLoopback(address_)) {
    spdlog::warn(
        "ops listener on {} is reachable from the network: the status page shows alert "
        "ids and file names; restrict access with a firewall",
        BaseUrl());
  }
  spdlog::info("ops listener on {} (/healthz /readyz /metrics /status)", BaseUrl());
}

Status OpsServer::Bind() {
  if (http_) return Ok();
  if (sources_.clock == nullptr || !sources_.readiness) {
    return MakeError(ErrorCode::kInternal, "ops listener set up without its sources");
  }
  http_ = std::make_unique<httplib::Server>();
  // Two threads: the listener serves probes and scrapes, not traffic, and idle threads cost
  // memory.
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  // httplib's default sets SO_REUSEPORT, which would let a second process bind the same port
  // and silently share it; SO_REUSEADDR alone still refuses a port someone listens on.
  http_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http_->set_read_timeout(5, 0);
  http_->set_write_timeout(5, 0);
  http_->set_keep_alive_timeout(5);
  Routes();

  errno = 0;
  int port = address_.port;
  bool bound = false;
  if (port == 0) {
    port = http_->bind_to_any_port(address_.host);
    bound = port > 0;
  } else {
    bound = http_->bind_to_port(address_.host, port);
  }
  if (!bound) {
    const int err = errno;
    http_.reset();
    const std::string why = err == EADDRINUSE ? "the port is already in use (another "
                                                "vmray-connector or another program listens on it)"
                            : err != 0        ? std::strerror(err)
                                              : "the address cannot be bound";
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("cannot listen on {}:{} for the ops endpoints: {}; set ops.listen "
                    "(VMRAY_CONNECTOR_OPS_LISTEN) to a free host:port, or ops.enabled = false",
                    address_.host, address_.port, why));
  }
  port_ = port;
  return Ok();
}

void OpsServer::Stop() {
  if (!http_) return;
  // Bound but never served: httplib closes its socket only on the way out of its accept loop.
  if (!thread_.joinable()) thread_ = std::thread([this] { http_->listen_after_bind(); });
  // stop() is a no-op until the serving thread has entered its accept loop; a stop that came
  // first would leave that loop running forever.
  for (int i = 0; i < 2000 && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  if (thread_.joinable()) thread_.join();
  http_.reset();
}

}  // namespace vc::server
