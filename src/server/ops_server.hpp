// The ops listener: its own small HTTP server (loopback by default) with
//   /healthz  200 "ok" while the process serves requests;
//   /readyz   200 when every readiness check passes, else 503; JSON naming each check;
//   /metrics  Prometheus text: the process's counters plus gauges read from the store;
//   /status   the HTML status page.
// It binds in Start, so a taken port is an error at start-up before anything else runs.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "server/listen_address.hpp"
#include "server/readiness.hpp"
#include "server/status_page.hpp"
#include "server/store_gauges.hpp"
#include "store/store.hpp"

namespace httplib {
class Server;
}

namespace vc::server {

// What the listener reads from the running connector. Every callback is called on a listener
// thread and must be thread-safe.
struct OpsSources {
  store::Store* store = nullptr;
  Clock* clock = nullptr;
  std::string version;
  std::function<std::vector<ReadinessCheck>()> readiness;
  std::function<std::vector<LimiterUse>()> limiters;  // may be empty
};

class OpsServer {
 public:
  OpsServer(ListenAddress address, OpsSources sources, Metrics& metrics = Metrics::Global());
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  // Binds the address: a taken port or an address that cannot be bound is an error naming the
  // address and ops.listen. Nothing is served yet.
  Status Bind();
  // Starts serving on a thread. `store` (when not null) replaces sources.store: the daemon binds
  // before it opens the store.
  void Serve(store::Store* store = nullptr);
  // Bind and Serve.
  Status Start();
  void Stop();
  // The bound port (the real one when the address asked for port 0).
  int port() const { return port_; }
  std::string BaseUrl() const;

 private:
  void Routes();

  ListenAddress address_;
  OpsSources sources_;
  Metrics& metrics_;
  StoreGauges gauges_;
  std::mutex scrape_mu_;  // one /metrics scrape at a time: the gauges are shared state
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace vc::server
