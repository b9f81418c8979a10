// The enrichment listener: the Sentinel solution's function app as a local HTTP API. It serves
//   /api/<FunctionName>  the original's nine functions, drop-in for the playbooks' calls;
//   /api/v1/...          the same operations as a versioned JSON API.
// Every /api request needs the function key (x-functions-key header or code query parameter);
// without it the answer is 401 and nothing else happens. Plain HTTP only: it binds loopback by
// default and belongs behind a TLS-terminating proxy when other hosts must reach it.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "clients/vmray/client.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/secret.hpp"
#include "server/enrichment/operations.hpp"
#include "server/listen_address.hpp"

namespace httplib {
class Server;
}

namespace vc::enrichment {

struct EnrichmentServerOptions {
  server::ListenAddress address;
  Secret<> function_key;
  int workers = 4;
  int64_t max_body_bytes = 64LL * 1024 * 1024;
  OperationsOptions operations;
};

class EnrichmentServer {
 public:
  EnrichmentServer(EnrichmentServerOptions options, vmray::Client& vmray,
                   Metrics& metrics = Metrics::Global());
  ~EnrichmentServer();
  EnrichmentServer(const EnrichmentServer&) = delete;
  EnrichmentServer& operator=(const EnrichmentServer&) = delete;

  // Binds the address; a taken port is an error naming enrichment.listen. Serves nothing yet.
  Status Bind();
  void Serve();
  Status Start();
  void Stop();
  int port() const { return port_; }
  std::string BaseUrl() const;

 private:
  void Routes();

  EnrichmentServerOptions options_;
  Operations ops_;
  Metrics& metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace vc::enrichment
