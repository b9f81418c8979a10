// bench-ti-feed: a backfill of the Sentinel TI feed by the real vmray-connector binary
// (`feed --since <date>`, configured by environment variables only) against the real
// vmray-emulators binary. The VMRay emulator generates the submissions and their IOCs
// deterministically (seed "generate"); the Sentinel emulator enforces the upload limit with its
// window scaled down, and the connector's limiter gets the same window (feed.rate_limit_window_ms),
// so an hour of uploads at 100 requests per minute takes a few minutes.
//
// It prints objects/s, the request rate achieved as a share of the limit, the 429s the emulator
// answered, connector CPU per 1,000 objects and the connector's peak RSS (VmHWM read from /proc
// while it runs, also at the 10k-submission mark to show memory stays flat).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "bench_setup.hpp"
#include "cli_options.hpp"
#include "connector_watch.hpp"
#include "core/time.hpp"
#include "emulator_stats.hpp"

namespace vc::bench {
namespace {

// Targets of issue 6 ("Proof").
constexpr double kMinRateShare = 0.95;
constexpr int64_t kMaxPeakRssKib = 64 * 1024;

struct Flags {
  CommonFlags common;
  int submissions = 50'000;
  int iocs_per_sample = 10;
  int days = 30;                  // the submissions finished over this many days
  int requests_per_window = 100;  // Sentinel's limit: 100 requests ...
  int window_ms = 6'000;          // ... per window (60000 in the real service)
  int feed_window_hours = 6;      // feed.window_hours, the shipped default
  int timeout_seconds = 3600;
  int rss_mark = 10'000;  // also report VmHWM when this many submissions are done
};

// The connector's progress line: "... | total submissions N IOCs N uploaded N rejected N | ...".
const std::regex kTotals(R"(\| total submissions (\d+) IOCs (\d+) uploaded (\d+) rejected (\d+))");
// Its last line: "feed: done ... N submissions, N samples, N indicators, N uploaded, N rejected,
// N left out, N revoked, N requests, N throttled".
const std::regex kDone(
    R"(feed: done .* (\d+) submissions, (\d+) samples, (\d+) indicators, (\d+) uploaded, (\d+) )"
    R"(rejected, (\d+) left out, (\d+) revoked, (\d+) requests, (\d+) throttled)");

// Reads what the connector appended to its output since the last call.
class OutputTail {
 public:
  explicit OutputTail(std::string path) : path_(std::move(path)) {}
  std::string Next() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return "";
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size <= offset_) return "";
    in.seekg(offset_);
    std::string text(static_cast<size_t>(size - offset_), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    // Only whole lines; the rest comes with the next read.
    const size_t end = text.rfind('\n');
    if (end == std::string::npos) return "";
    text.resize(end + 1);
    offset_ += static_cast<std::streamoff>(text.size());
    return text;
  }

 private:
  std::string path_;
  std::streamoff offset_ = 0;
};

int Run(const Flags& flags) {
  const CommonFlags& common = flags.common;
  WorkDir dir(common.work_root, "ti-feed", common.keep);
  const Json emulator_options = {
      {"vmray", {{"page_size", common.vmray_page_size}}},
      {"sentinel",
       {{"requests_per_window", flags.requests_per_window},
        {"window_ms", flags.window_ms},
        // Half a million objects as JSON would be gigabytes in the emulator; ids suffice here.
        {"keep_objects", false}}}};
  auto emulators = StartEmulators(common.emulators, dir, emulator_options);
  if (!emulators) {
    std::cerr << "cannot start the emulators: " << emulators.error().message << "\n";
    return 1;
  }

  const TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const TimePoint since =
      std::chrono::floor<std::chrono::days>(now - std::chrono::days(flags.days));
  const TimePoint from = since + std::chrono::hours(1);
  const TimePoint to = now - std::chrono::hours(1);
  auto vmray_time = [](TimePoint t) { return FormatIso8601(t).substr(0, 19); };
  const auto seed_start = std::chrono::steady_clock::now();
  if (auto s = Seed((*emulators)->Url("vmray"), {{"generate",
                                                  {{"count", flags.submissions},
                                                   {"iocs_per_sample", flags.iocs_per_sample},
                                                   {"seed", 1},
                                                   {"from", vmray_time(from)},
                                                   {"to", vmray_time(to)}}}});
      !s) {
    std::cerr << "generating the VMRay submissions failed: " << s.error().message << "\n";
    return 1;
  }
  std::cerr << fmt::format("  generated {} submissions ({} IOCs each) in {:.1f} s\n",
                           flags.submissions, flags.iocs_per_sample, SecondsSince(seed_start));

  const std::string since_text = FormatIso8601(since).substr(0, 10);
  const EnvPairs env = ConnectorEnvironment(
      **emulators, common, dir,
      {{"AzureWorkspaceID", "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"},
       {"VMRAY_CONNECTOR_FEED_API_BASE_URL", (*emulators)->Url("sentinel")},
       {"VmraySampleVerdict", "Malicious & Suspicious"},
       {"VMRAY_CONNECTOR_FEED_WINDOW_HOURS", std::to_string(flags.feed_window_hours)},
       {"VMRAY_CONNECTOR_FEED_RATE_LIMIT_WINDOW_MS", std::to_string(flags.window_ms)}});
  ChildProcess connector;
  const std::string out_path = dir.File("connector.out");
  const auto start = std::chrono::steady_clock::now();
  if (auto s = connector.Start(common.connector, {"feed", "--since", since_text}, env, out_path);
      !s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  std::cerr << "  connector pid " << connector.pid() << ": feed --since " << since_text << "\n";

  OutputTail tail(out_path);
  std::string output;
  int64_t done_submissions = 0, hwm_kib = 0, hwm_at_mark = 0, max_rss_kib = 0;
  auto last_report = start;
  bool timed_out = false;
  while (connector.Running()) {
    if (auto sample = connector.Sample()) {
      hwm_kib = std::max(hwm_kib, sample->hwm_kib);
      max_rss_kib = std::max(max_rss_kib, sample->rss_kib);
    }
    const std::string more = tail.Next();
    output += more;
    for (std::sregex_iterator it(more.begin(), more.end(), kTotals), end; it != end; ++it) {
      done_submissions = std::stoll((*it)[1].str());
    }
    if (hwm_at_mark == 0 && done_submissions >= flags.rss_mark) hwm_at_mark = hwm_kib;
    if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
      last_report = std::chrono::steady_clock::now();
      std::cerr << fmt::format("  {:.0f} s: {} submissions done, VmHWM {}\n", SecondsSince(start),
                               done_submissions, Mib(hwm_kib));
    }
    if (SecondsSince(start) > flags.timeout_seconds) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double seconds = SecondsSince(start);
  auto usage = connector.Stop();
  output += tail.Next();
  auto state = app::GetJson((*emulators)->Url("sentinel") + "/_emulator/state");
  auto calls = FetchCallCounts((*emulators)->endpoints());
  if (!usage || !state || !calls) {
    std::cerr << "cannot collect the figures: "
              << (!usage   ? usage.error().message
                  : !state ? state.error().message
                           : calls.error().message)
              << "\n";
    return 1;
  }
  std::smatch done;
  if (timed_out || !std::regex_search(output, done, kDone)) {
    std::cout << "\nThe feed did not finish" << (timed_out ? " in time" : "") << ". Last lines:\n"
              << TailOf(out_path, 10) << TailOf(dir.File("connector.log"), 15);
    return 1;
  }
  auto n = [&](int group) { return std::stoll(done[group].str()); };
  const int64_t submissions = n(1), samples = n(2), indicators = n(3), uploaded = n(4),
                rejected = n(5), left_out = n(6), requests = n(8), throttled_waits = n(9);
  const int64_t throttled = state->value("throttled", int64_t{0});
  const int64_t accepted_uploads = state->value("uploads", int64_t{0});
  const int64_t distinct = state->value("distinct_objects", int64_t{0});
  auto time_of = [&](const char* key) {
    const Json& v = (*state)[key];
    return v.is_string() ? ParseIso8601(v.get<std::string>()).value_or(TimePoint{}) : TimePoint{};
  };
  const TimePoint first = time_of("first_upload");
  const TimePoint last = time_of("last_upload");
  const double upload_span = std::chrono::duration<double>(last - first).count();
  // The limit as requests per second. Also the share of the most the sliding window lets
  // through in the upload span (a full window at the start, then the rate): the first is the
  // headline, the second is stricter on short runs.
  const double limit_per_s = flags.requests_per_window * 1000.0 / flags.window_ms;
  const double share_span = upload_span > 0 ? accepted_uploads / upload_span / limit_per_s : 0;
  const double share_max =
      accepted_uploads / (flags.requests_per_window + upload_span * limit_per_s);
  const double share_run = accepted_uploads / (seconds * limit_per_s);
  const double cpu_ms = usage->cpu_ms();
  // A submission finishing in a window's boundary second is read by both windows (the feed
  // reads twice rather than never), so a few more than generated is right.
  const bool correct = submissions >= flags.submissions && samples >= flags.submissions &&
                       rejected == 0 && left_out == 0 && calls->assertions == 0 &&
                       uploaded >= distinct && distinct > 0 && usage->exit_code == 0;

  Table table(
      fmt::format("TI feed backfill ({} submissions x {} IOCs, limit {} requests / {} ms, "
                  "feed windows of {} h)",
                  flags.submissions, flags.iocs_per_sample, flags.requests_per_window,
                  flags.window_ms, flags.feed_window_hours));
  table.Row("submissions / samples read", fmt::format("{} / {}", submissions, samples))
      .Row("IOC entries VMRay served", std::to_string(samples * flags.iocs_per_sample))
      .Row("STIX objects uploaded (distinct ids in Sentinel)",
           fmt::format("{} ({})", uploaded, distinct))
      .Row("  of which per-window indicators / rejected / left out",
           fmt::format("{} / {} / {}", indicators, rejected, left_out))
      .Row("wall time, connector start to exit", fmt::format("{:.1f} s", seconds))
      .Row("objects/s (whole run)", fmt::format("{:.0f}", uploaded / seconds))
      .Row("upload requests (accepted by the emulator)",
           fmt::format("{} ({})", requests, accepted_uploads))
      .Row("request rate, first to last upload",
           fmt::format("{:.2f}/s = {:.1f} % of the limit", accepted_uploads / upload_span,
                       100 * share_span))
      .Row("  share of the most the window allows in that span",
           fmt::format("{:.1f} %", 100 * share_max))
      .Row("request rate over the whole run",
           fmt::format("{:.2f}/s = {:.1f} % of the limit", accepted_uploads / seconds,
                       100 * share_run))
      .Row("429 answers (emulator) / waited out (connector)",
           fmt::format("{} / {}", throttled, throttled_waits))
      .Row("connector CPU, user + sys",
           fmt::format("{:.0f} ms ({:.0f} + {:.0f})", cpu_ms, usage->user_ms, usage->sys_ms))
      .Row("connector CPU per 1,000 objects", fmt::format("{:.1f} ms", cpu_ms * 1000 / uploaded))
      .Row(fmt::format("peak RSS (VmHWM) at {} submissions", flags.rss_mark), Mib(hwm_at_mark))
      .Row("peak RSS (VmHWM) at the end", Mib(hwm_kib))
      .Row("VMRay calls (of which IOC fetches)",
           fmt::format("{} ({})", calls->Service("vmray"),
                       calls->Route("vmray GET /rest/sample/{id}/iocs")))
      .Row("requests the emulators rejected as contract violations",
           std::to_string(calls->assertions))
      .Row("connector exit", usage->term_signal ? fmt::format("signal {}", usage->term_signal)
                                                : fmt::format("code {}", usage->exit_code));
  table.Print(std::cout);
  std::cout << "\n| API route | calls |\n|---|---:|\n";
  for (const auto& [route, count] : calls->routes) {
    std::cout << fmt::format("| {} | {} |\n", route, count);
  }
  std::cout << "\n"
            << TargetLine(share_span >= kMinRateShare,
                          fmt::format("request rate >= 95 % of the limit while uploading "
                                      "(measured {:.1f} %; over the whole run {:.1f} %)",
                                      100 * share_span, 100 * share_run))
            << "\n"
            << TargetLine(throttled == 0, fmt::format("no 429 (measured {})", throttled)) << "\n"
            << TargetLine(hwm_kib <= kMaxPeakRssKib,
                          fmt::format("peak RSS <= 64 MiB and flat (measured {} at {} "
                                      "submissions, {} at {})",
                                      Mib(hwm_at_mark), flags.rss_mark, Mib(hwm_kib), submissions))
            << "\n";
  if (!correct) {
    std::cout << "\nCHECK FAILED: expected every submission read, no object rejected or left "
                 "out, no contract violation and exit code 0.\n";
  }
  if (common.keep) std::cout << "\nScratch directory kept: " << dir.path() << "\n";
  std::cout << std::flush;
  (*emulators)->Stop();
  return correct ? 0 : 1;
}

}  // namespace
}  // namespace vc::bench

int main(int argc, char** argv) {
  using namespace vc::bench;
  CLI::App app{
      "Sentinel TI feed backfill of vmray-connector against vmray-emulators at a time-scaled "
      "upload limit; prints objects/s, request rate as a share of the limit, 429s, CPU per "
      "1,000 objects and peak RSS"};
  Flags flags;
  flags.common.Add(app);
  AddBounded(app, "--submissions", flags.submissions, "Finished VMRay submissions to backfill", 1,
             1'000'000);
  AddBounded(app, "--iocs-per-sample", flags.iocs_per_sample, "IOC entries per sample", 1, 10'000);
  AddBounded(app, "--days", flags.days, "The submissions finished over this many days", 1, 3650);
  AddBounded(app, "--requests-per-window", flags.requests_per_window,
             "Sentinel emulator: upload requests per window", 1, 100'000);
  AddBounded(app, "--window-ms", flags.window_ms,
             "The limit's window, emulator and connector (real service: 60000)", 100, 3'600'000);
  AddBounded(app, "--feed-window-hours", flags.feed_window_hours, "feed.window_hours", 1, 168);
  AddBounded(app, "--rss-mark", flags.rss_mark, "Also report VmHWM at this many submissions", 1,
             1'000'000);
  AddBounded(app, "--timeout-seconds", flags.timeout_seconds, "Give up after this", 1, 86'400);
  CLI11_PARSE(app, argc, argv);
  std::cout << "# bench-ti-feed\n\n- when: " << Now() << "\n- machine: " << MachineLine() << "\n";
  return Run(flags);
}
