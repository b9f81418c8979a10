// Logging through spdlog, as text for people or JSON lines for machines. Every line passes the
// Redactor on its way out. A thread-local context (job id, alert id, ...) is attached to every
// line written while a ScopedLogContext is alive, so one alert's life can be grepped.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <vector>

namespace vc {

enum class LogFormat { kText, kJson };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty: standard error
};

// Replaces spdlog's default logger. Safe to call again (tests switch formats).
void InitLogging(const LogOptions& options);

using LogFields = std::vector<std::pair<std::string, std::string>>;

class ScopedLogContext {
 public:
  explicit ScopedLogContext(LogFields fields);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  size_t previous_size_;
};

const LogFields& CurrentLogContext();

}  // namespace vc
