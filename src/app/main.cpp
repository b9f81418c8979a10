// vmray-connector: daemon and operator CLI in one binary. Everything is in RunCli (cli.cpp), so
// the tests run the same commands in-process.
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "config/config.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return vc::app::RunCli(args, vc::config::CurrentEnvironment(), std::cout, std::cerr);
}
