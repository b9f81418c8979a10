// The enrichment API as the daemon builds it: the VMRay client on the daemon's pipeline against
// the VMRay emulator, and the listener on 127.0.0.1 port 0, called over real HTTP the way a Logic
// App "Function" action calls the original function app.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/vmray/client.hpp"
#include "contract/contract_support.hpp"
#include "core/hash.hpp"
#include "core/metrics.hpp"
#include "server/enrichment/enrichment_server.hpp"

namespace vc::enrichment {

// Carries the marker ContractTest looks for in logs, call logs and errors.
inline constexpr std::string_view kFunctionKey = "fk-DO-NOT-LOG-3f9a2c";

class EnrichmentTest : public contract::ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
    MakeVmray({});
    StartServer();
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    ContractTest::TearDown();
  }

  void MakeVmray(contract::ClientSetup setup,
                 std::string api_key = std::string(emu::VmrayEmulator::kDefaultApiKey)) {
    auto credential = std::make_shared<auth::ApiKeyCredential>(Secret<>(std::move(api_key)));
    vmray_client_ = std::make_unique<vmray::Client>(
        vmray().BaseUrl(), MakePipeline(setup, kVmrayUserAgent, credential));
  }

  // Replaces the running listener; `tweak` edits the options first.
  void StartServer(const std::function<void(EnrichmentServerOptions&)>& tweak = nullptr) {
    if (server_) server_->Stop();
    EnrichmentServerOptions o;
    o.address = {"127.0.0.1", 0};
    o.function_key = Secret<>(std::string(kFunctionKey));
    o.workers = 2;
    if (tweak) tweak(o);
    server_ = std::make_unique<EnrichmentServer>(std::move(o), *vmray_client_, metrics_);
    auto started = server_->Start();
    ASSERT_TRUE(started) << started.error().ToString();
  }

  httplib::Client Http() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30, 0);
    return c;
  }
  static httplib::Headers Key() { return {{"x-functions-key", std::string(kFunctionKey)}}; }

  // POST with a JSON body and the key in the header, as the Logic App Function action sends it.
  httplib::Result PostJson(const std::string& path, const Json& body) {
    return Http().Post(path.c_str(), Key(), body.dump(), "application/json");
  }
  httplib::Result GetWithKey(const std::string& path_and_query) {
    return Http().Get(path_and_query.c_str(), Key());
  }

  static Json BodyJson(const httplib::Result& r) {
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }

  emu::VmrayEmulator& vmray() { return emulators().vmray(); }
  size_t VmrayCalls() const { return emulators_->vmray().Calls().size(); }
  size_t SubmitCalls() const {
    return emulators_->vmray().CountCalls("POST", "^/rest/sample/submit$");
  }

  // An analysed sample of `content`; returns its id.
  int64_t SeedSample(const std::string& content, const std::string& verdict,
                     const std::string& filename = "invoice.exe") {
    Seed({{"vmray",
           {{"samples",
             {{{"sha256", Sha256Hex(content)},
               {"sha1", Sha1Hex(content)},
               {"md5", Md5Hex(content)},
               {"filename", filename},
               {"verdict", verdict}}}}}}});
    const Json state = vmray().StateJson();
    for (const auto& s : state["samples"]) {
      if (s["sha256"] == Sha256Hex(content)) return s["id"].get<int64_t>();
    }
    ADD_FAILURE() << "seeded sample missing: " << state.dump();
    return 0;
  }

  Metrics metrics_;
  std::unique_ptr<vmray::Client> vmray_client_;
  std::unique_ptr<EnrichmentServer> server_;
};

}  // namespace vc::enrichment
