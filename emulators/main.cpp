// vmray-emulators: Entra token endpoint, VMRay and MDE emulators on free loopback ports.
// Prints one JSON line with their base URLs, then serves until SIGINT or SIGTERM.
#include <CLI/CLI.hpp>

#include <csignal>
#include <fstream>
#include <iostream>

#include "emulator_set.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Emulators of the services vmray-connector talks to (loopback only)"};
  std::string options_file, seed_file;
  app.add_option("--options", options_file, "JSON file with emulator options per service");
  app.add_option("--seed", seed_file, "JSON file with initial state per service");
  CLI11_PARSE(app, argc, argv);

  auto read_json = [](const std::string& path) -> vc::Json {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return vc::Json::parse(in);
  };

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // server threads inherit the mask

  try {
    vc::emu::EmulatorSetOptions options;
    if (!options_file.empty())
      options = vc::emu::EmulatorSetOptions::FromJson(read_json(options_file));
    vc::emu::EmulatorSet set(std::move(options));
    set.Start();
    if (!seed_file.empty()) {
      if (auto problem = set.Seed(read_json(seed_file))) {
        std::cerr << "vmray-emulators: bad seed: " << *problem << "\n";
        return 2;
      }
    }
    std::cout << set.Endpoints().dump() << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    set.Stop();
  } catch (const std::exception& e) {
    std::cerr << "vmray-emulators: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
