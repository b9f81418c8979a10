// The commands that read the store: `status`, `alert <id>` and `jobs`. They open the SQLite file
// directly (WAL readers never block the daemon) and never the Daemon, which holds the
// single-instance lock. Every text that came from a service passes the redactor.
#include <fmt/format.h>

#include <map>

#include "app/cli_support.hpp"
#include "core/redact.hpp"
#include "pipelines/defender_alerts/evidence_payload.hpp"
#include "pipelines/defender_alerts/response_actions.hpp"
#include "pipelines/sentinel_feed/feed_runner.hpp"
#include "store/sqlite_db.hpp"

namespace vc::app {
namespace {

constexpr int kOutboxWindow = 1000;  // ListOutbox(0) returns the newest this many

// The ids of every job of one alert: "mde:<id>" (no usable evidence) and "mde:<id>:<sha256>".
// The store interface has no key-prefix query, so this reads the jobs table on its own
// connection; a prefix compared with substr() needs no LIKE escaping for ids with '_' in them.
Result<std::vector<int64_t>> JobIdsOfAlert(const std::string& path, const std::string& alert_id) {
  store::SqliteDb::Options o;
  o.path = path;
  auto db = store::SqliteDb::Open(o);
  if (!db) return db.error();
  const std::string exact = "mde:" + alert_id;
  const std::string prefix = exact + ":";
  auto select = (*db)->Prepare(
      "SELECT id FROM jobs WHERE key = ?1 OR substr(key, 1, length(?2)) = ?2 ORDER BY id",
      "finding the jobs of an alert");
  if (!select) return select.error();
  select->BindText(1, exact).BindText(2, prefix);
  std::vector<int64_t> ids;
  while (true) {
    auto row = select->Step();
    if (!row) return row.error();
    if (!*row) break;
    ids.push_back(select->Int(0));
  }
  return ids;
}

void PrintOutbox(std::ostream& out, const std::vector<store::OutboxItem>& items, TimePoint now,
                 std::string_view indent) {
  for (const auto& o : items) {
    out << fmt::format("{}{} -> {}: {} (attempts {}", indent, o.kind, Scrub(o.target), o.state,
                       o.attempts);
    if (o.state == "pending") out << ", next try " << ShowRelative(o.next_attempt_at, now);
    if (o.done_at) out << ", done " << ShowTime(*o.done_at);
    out << ")";
    if (!o.reason.empty()) out << ": " << Scrub(o.reason);
    out << "\n";
  }
}

}  // namespace

int StatusCommand(const CommandContext& ctx, int failures) {
  QuietLogging();
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  auto store = OpenStoreOrReport(ctx, *config);
  if (!store) return kExitRuntime;
  const TimePoint now = ctx.clock.Now();
  auto& out = ctx.out;

  auto counts = store->CountJobs();
  if (!counts) {
    ctx.err << "vmray-connector: " << Scrub(counts.error().message) << "\n";
    return kExitRuntime;
  }
  int64_t total = 0;
  for (const auto& c : *counts) total += c.count;
  out << fmt::format("store {}: {} job{}\n\n", config->store.path, total, total == 1 ? "" : "s");
  out << fmt::format("{:<24} {:<34} {:>8}\n", "KIND", "STATE", "JOBS");
  for (const auto& c : *counts) {
    out << fmt::format("{:<24} {:<34} {:>8}\n", c.kind, c.state, c.count);
  }
  if (counts->empty()) out << "(no jobs yet)\n";

  if (auto oldest = store->OldestDueJob(now); oldest && *oldest) {
    out << fmt::format("\noldest due job: due since {} ({})\n", ShowTime(**oldest),
                       ShowRelative(**oldest, now));
  } else if (oldest) {
    auto next = store->NextDueTime();
    out << "\nno job is due now";
    if (next && *next) out << fmt::format("; next step {}", ShowRelative(**next, now));
    out << "\n";
  }

  auto outbox = store->ListOutbox(0);
  if (!outbox) {
    ctx.err << "vmray-connector: " << Scrub(outbox.error().message) << "\n";
    return kExitRuntime;
  }
  std::map<std::string, int> by_state;
  for (const auto& o : *outbox) ++by_state[o.state];
  out << fmt::format("\nwrite-backs (newest {}): ", kOutboxWindow);
  if (by_state.empty()) out << "none";
  bool first = true;
  for (const auto& [state, n] : by_state) {
    out << (first ? "" : ", ") << state << " " << n;
    first = false;
  }
  out << "\n";

  // The Sentinel TI feed, once it has run: its checkpoint and the objects Sentinel refused.
  auto checkpoint = store->GetCursor(std::string(sentinel_feed::kCheckpointCursor));
  if (checkpoint && *checkpoint) {
    auto rejected = store->GetCursor(std::string(sentinel_feed::kRejectedCountCursor));
    out << fmt::format(
        "\nSentinel TI feed: checkpoint {}, {} object(s) rejected by Sentinel so "
        "far (reasons in the log: \"Sentinel rejected STIX object\")\n",
        Scrub(**checkpoint), rejected && *rejected ? Scrub(**rejected) : std::string("0"));
    auto last = store->GetCursor(std::string(sentinel_feed::kLastRunCursor));
    if (last && *last) out << "last run: " << Scrub(**last) << "\n";
  }

  if (failures > 0) {
    auto failed = store->ListJobs({"", "failed", std::nullopt, "", failures});
    if (!failed) {
      ctx.err << "vmray-connector: " << Scrub(failed.error().message) << "\n";
      return kExitRuntime;
    }
    out << fmt::format("\nrecent failed jobs ({} shown, newest first):\n", failed->size());
    if (failed->empty()) out << "(none)\n";
    for (const auto& j : *failed) {
      out << fmt::format("  #{} {} at {}: {}\n", j.id, Scrub(j.key), ShowTime(j.updated_at),
                         Scrub(j.reason));
    }
    std::vector<store::OutboxItem> failed_items;
    for (const auto& o : *outbox) {
      if (o.state == "failed" && static_cast<int>(failed_items.size()) < failures) {
        failed_items.push_back(o);
      }
    }
    out << fmt::format("\nrecent failed write-backs ({} shown):\n", failed_items.size());
    if (failed_items.empty()) out << "(none)\n";
    PrintOutbox(out, failed_items, now, "  ");
  }
  return kExitOk;
}

int AlertCommand(const CommandContext& ctx, const std::string& alert_id) {
  QuietLogging();
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  auto store = OpenStoreOrReport(ctx, *config);
  if (!store) return kExitRuntime;
  auto ids = JobIdsOfAlert(config->store.path, alert_id);
  if (!ids) {
    ctx.err << "vmray-connector: " << Scrub(ids.error().message) << "\n";
    return kExitRuntime;
  }
  if (ids->empty()) {
    ctx.err << fmt::format(
        "vmray-connector: no job for alert {} in {}: the connector has not seen it (check the "
        "alert filters with `vmray-connector config print`) or the id is misspelt\n",
        Scrub(alert_id), config->store.path);
    return kExitRuntime;
  }
  const TimePoint now = ctx.clock.Now();
  auto& out = ctx.out;
  out << fmt::format("alert {}: {} job{}\n", Scrub(alert_id), ids->size(),
                     ids->size() == 1 ? "" : "s");
  for (int64_t id : *ids) {
    auto job = store->GetJob(id);
    if (!job || !*job) continue;  // removed since the lookup
    const store::Job& j = **job;
    out << fmt::format("\njob #{} {}\n", j.id, Scrub(j.key));
    out << fmt::format("  state:      {}{}\n", j.state, j.final ? " (final)" : "");
    if (!j.reason.empty()) out << fmt::format("  reason:     {}\n", Scrub(j.reason));
    out << fmt::format("  attempts:   {}\n", j.attempts);
    if (!j.final) {
      out << fmt::format("  next retry: {} ({})\n", ShowTime(j.next_attempt_at),
                         ShowRelative(j.next_attempt_at, now));
    }
    out << fmt::format("  created:    {}; updated {}\n", ShowTime(j.created_at),
                       ShowTime(j.updated_at));
    if (auto p = defender::EvidencePayload::Parse(j.payload)) {
      if (!p->sha256.empty()) {
        out << fmt::format("  file:       {} (sha256 {})\n", Scrub(p->FullPath()), p->sha256);
      }
      if (!p->computer_dns_name.empty() || !p->machine_id.empty()) {
        out << fmt::format("  device:     {} ({})\n", Scrub(p->computer_dns_name),
                           Scrub(p->machine_id));
      }
      if (!p->skip_reason.empty()) out << fmt::format("  skipped:    {}\n", Scrub(p->skip_reason));
    }
    if (!j.group_key.empty()) {
      auto sample = store->GetSample(j.group_key);
      if (sample && *sample) {
        const store::Sample& s = **sample;
        out << fmt::format("  sample:     {}", s.state);
        if (!s.verdict.empty()) out << ", verdict " << s.verdict;
        if (s.sample_id != 0) out << fmt::format(", VMRay sample {}", s.sample_id);
        if (s.submission_id != 0) out << fmt::format(", submission {}", s.submission_id);
        if (s.analysed_at) out << ", analysed " << ShowTime(*s.analysed_at);
        out << "\n";
        if (!s.reason.empty()) out << fmt::format("              {}\n", Scrub(s.reason));
      } else {
        out << "  sample:     none yet\n";
      }
    }
    auto outbox = store->ListOutbox(j.id);
    if (outbox && !outbox->empty()) {
      out << "  write-backs:\n";
      PrintOutbox(out, *outbox, now, "    ");
    } else {
      out << "  write-backs: none yet\n";
    }
  }
  // Response actions belong to no job (one per device and file, whatever the alert); the first
  // alert that asked for one is their target.
  if (auto all = store->ListOutbox(0)) {
    std::vector<store::OutboxItem> actions;
    for (const auto& o : *all) {
      if (o.kind == defender::kResponseActionKind && o.target == alert_id) actions.push_back(o);
    }
    if (!actions.empty()) {
      out << "\nresponse actions:\n";
      PrintOutbox(out, actions, now, "  ");
    }
  }
  return kExitOk;
}

int JobsCommand(const CommandContext& ctx, const std::string& state, int limit) {
  QuietLogging();
  auto config = LoadOrReport(ctx);
  if (!config) return kExitConfig;
  auto store = OpenStoreOrReport(ctx, *config);
  if (!store) return kExitRuntime;
  auto jobs = store->ListJobs({"", state, std::nullopt, "", limit});
  if (!jobs) {
    ctx.err << "vmray-connector: " << Scrub(jobs.error().message) << "\n";
    return kExitRuntime;
  }
  ctx.out << fmt::format("{:>6} {:<44} {:<34} {:>3} {}\n", "ID", "KEY", "STATE", "TRY", "REASON");
  for (const auto& j : *jobs) {
    ctx.out << fmt::format("{:>6} {:<44} {:<34} {:>3} {}\n", j.id, Scrub(j.key.substr(0, 44)),
                           j.state, j.attempts, Scrub(j.reason));
  }
  return kExitOk;
}

}  // namespace vc::app
