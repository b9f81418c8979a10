#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/redact.hpp"
#include "core/time.hpp"

namespace vc {
namespace {

thread_local LogFields tls_context;

class RedactingFormatter final : public spdlog::formatter {
 public:
  explicit RedactingFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string text = Scrub(std::string_view(msg.payload.data(), msg.payload.size()));
    const std::string ts = FormatIso8601Millis(msg.time);
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line;
    if (format_ == LogFormat::kJson) {
      nlohmann::json j;
      j["ts"] = ts;
      j["level"] = std::string(level.data(), level.size());
      j["msg"] = text;
      for (const auto& [k, v] : tls_context) j[k] = Scrub(v);
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = fmt::format("{} {:<5} {}", ts, std::string_view(level.data(), level.size()), text);
      for (const auto& [k, v] : tls_context) line += fmt::format(" {}={}", k, Scrub(v));
    }
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RedactingFormatter>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

void InitLogging(const LogOptions& options) {
  spdlog::sink_ptr sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
  }
  sink->set_formatter(std::make_unique<RedactingFormatter>(options.format));
  auto logger = std::make_shared<spdlog::logger>("vmray-connector", sink);
  logger->set_level(spdlog::level::from_str(options.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

ScopedLogContext::ScopedLogContext(LogFields fields) : previous_size_(tls_context.size()) {
  for (auto& f : fields) tls_context.push_back(std::move(f));
}

ScopedLogContext::~ScopedLogContext() {
  tls_context.resize(previous_size_);
}

const LogFields& CurrentLogContext() {
  return tls_context;
}

}  // namespace vc
