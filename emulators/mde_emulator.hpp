// Initial shell; the full emulator is being written.
#pragma once

#include "emulator_server.hpp"
#include "token_registry.hpp"

namespace vc::emu {

class MdeEmulator final : public EmulatorServer {
 public:
  struct Options {
    static Options FromJson(const Json& j);
  };
  MdeEmulator(Options options, Clock& clock, TokenRegistry& tokens);
  Json StateJson() const override { return Json::object(); }
  std::optional<std::string> Seed(const Json&) override { return std::nullopt; }
  void ResetState() override {}

 protected:
  void RegisterRoutes() override {}

 private:
  Options options_;
  TokenRegistry& tokens_;
};

}  // namespace vc::emu
