// What both benchmark programs share: the common flags, a scratch directory, the emulators
// process and its seeds, the connector's environment, and the Markdown tables they print.
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/emulator_process.hpp"
#include "child_process.hpp"
#include "core/json.hpp"

namespace vc::bench {

// The vmray-connector and vmray-emulators binaries of this build tree.
std::string BuildTreeConnector();
std::string BuildTreeEmulators();

struct CommonFlags {
  std::string connector = BuildTreeConnector();
  std::string emulators = BuildTreeEmulators();
  std::string work_root;  // default: the system temp directory
  int workers = 16;
  bool synchronous_full = true;  // the shipped default
  int page_size = 500;           // defender.page_size, the shipped default
  int vmray_page_size = 100;     // VMRay emulator items per list page
  int alert_poll_seconds = 60;   // defender.poll_interval_seconds, the shipped default
  std::string log_level = "info";
  bool keep = false;

  void Add(CLI::App& app);
};

// A fresh directory for one scenario; removed on destruction unless `keep`.
class WorkDir {
 public:
  WorkDir(const std::string& root, const std::string& name, bool keep);
  ~WorkDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  bool keep_;
};

// Starts vmray-emulators with `options` ({"vmray": {...}, "mde": {...}}) written to a file.
Result<std::unique_ptr<app::EmulatorProcess>> StartEmulators(const std::string& binary,
                                                             const WorkDir& dir,
                                                             const Json& options);
// POST <base_url>/_emulator/state.
Status Seed(const std::string& base_url, const Json& seed);

// Seed documents. Alert i is created `age` before now; ids are stable per index.
std::string BenchAlertId(int i);
std::string BenchMachineId(int i);
Json BenchAlert(int i, const std::string& machine_id, const std::string& sha256,
                const std::string& file_name, const std::string& dir, TimePoint created);
Json BenchMachine(const std::string& id, const Json& files);

// The connector's settings as environment variables (no other variable is passed on), pointing
// at the emulators: VMRay and Entra credentials of the emulators, the store and log in `dir`.
EnvPairs ConnectorEnvironment(const app::EmulatorProcess& emulators, const CommonFlags& flags,
                              const WorkDir& dir, const EnvPairs& extra);

// Markdown output, so the tables can go into bench/README.md as printed.
class Table {
 public:
  explicit Table(std::string title) : title_(std::move(title)) {}
  Table& Row(std::string name, std::string value);
  void Print(std::ostream& out) const;

 private:
  std::string title_;
  std::vector<std::pair<std::string, std::string>> rows_;
};

// "- target met: <what>" / "- target NOT MET: <what>"
std::string TargetLine(bool met, const std::string& what);
std::string Mib(int64_t kib);
// CPU model, cores, memory, kernel and the current load average, one line.
std::string MachineLine();
std::string Now();

}  // namespace vc::bench
