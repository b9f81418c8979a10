// One run of the Sentinel TI feed (the original's timer function, original-sentinel-solution.md
// 2.3, without its defects 2.9): list the VMRay submissions that finished in a window, one query
// per selected verdict, page by page; fetch each sample's IOCs once; map them to STIX
// indicators (stix_mapping.hpp), each indicator once per window with merged labels; upload them
// at the API limit; record every object Sentinel refused with its reason; and only then move
// the checkpoint past the window. Any VMRay or Sentinel failure leaves the checkpoint where it
// was, so the next run repeats the window (ids are deterministic: a repeat is an update).
//
// Memory: a long backlog is cut into windows of at most `max_window`; one window's indicators
// are held at a time and nothing is kept between windows or runs.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "core/clock.hpp"
#include "pipelines/defender_alerts/indicator_mapping.hpp"
#include "store/store.hpp"

namespace vc::sentinel_feed {

// Store cursor names.
inline constexpr std::string_view kCheckpointCursor = "ti_feed.checkpoint";
inline constexpr std::string_view kLastRunCursor = "ti_feed.last_run";
// + "<indicator id>": {"reason", "sample_id", "at"} of the last refusal of that object.
inline constexpr std::string_view kRejectedCursorPrefix = "ti_feed.rejected.";
// + "<sample id>": [{"k": key, "p": pattern, "n": name}] the feed uploaded for that sample, to
// revoke them when a later submission of the sample is clean.
inline constexpr std::string_view kSampleCursorPrefix = "ti_feed.sample.";
inline constexpr std::string_view kRejectedCountCursor = "ti_feed.rejected_total";

struct FeedOptions {
  std::vector<std::string> verdicts = {"malicious"};  // lower-case (VmraySampleVerdict)
  int initial_fetch_days = 90;                        // VmrayInitialFetchDate
  int expiration_days = 30;                           // IndicatorExpirationInDays
  std::string vmray_base_url;                         // report links
  Millis max_window{6 * 3600 * 1000};                 // backlog cut into windows of this size
  bool revoke_on_clean = true;
  std::vector<std::string> allow_list;  // the user's entries on top of the built-in ones
};

struct FeedSummary {
  TimePoint from{};
  TimePoint to{};
  int windows = 0;
  int64_t submissions = 0;
  int64_t samples = 0;
  int64_t indicators = 0;  // distinct objects sent
  int64_t uploaded = 0;
  int64_t rejected = 0;
  int64_t skipped = 0;  // left out by the mapping (allow-list, invalid value)
  int64_t revoked = 0;
  int64_t requests = 0;
  int64_t throttled = 0;
  Json ToJson() const;
};

// Called after every window (backfill progress).
using FeedProgress = std::function<void(const FeedSummary& total, const FeedSummary& window)>;

class FeedRunner {
 public:
  // Fails when the user's allow-list entries are invalid.
  static Result<std::unique_ptr<FeedRunner>> Create(FeedOptions options, vmray::Client& vmray,
                                                    sentinel::TiUploader& uploader,
                                                    store::Store& store, Clock& clock);

  // From the checkpoint (first run: now - initial_fetch_days, at 00:00 UTC) to now.
  Result<FeedSummary> RunOnce(const FeedProgress& progress = {});
  // From `since` to now, ignoring an older or newer checkpoint for the start; the checkpoint
  // ends at now when every window went through.
  Result<FeedSummary> Backfill(TimePoint since, const FeedProgress& progress = {});
  // One window [from, to]; advances the checkpoint to `to` when it went through.
  Result<FeedSummary> RunWindow(TimePoint from, TimePoint to);

  // The checkpoint in the store, if any.
  Result<std::optional<TimePoint>> Checkpoint();
  // Stops the runner for good (daemon shutdown): a run stops after the current window, and at
  // once when that window waits for an upload slot (the window then keeps its checkpoint); a
  // run started afterwards does nothing.
  void RequestStop() {
    stop_ = true;
    uploader_.RequestStop();
  }

 private:
  FeedRunner(FeedOptions options, vmray::Client& vmray, sentinel::TiUploader& uploader,
             store::Store& store, Clock& clock, defender::AllowList allow_list);
  Result<FeedSummary> RunRange(TimePoint from, TimePoint to, const FeedProgress& progress);
  Status RecordRejected(const sentinel::RejectedObject& r, const std::string& sample_of);

  FeedOptions options_;
  vmray::Client& vmray_;
  sentinel::TiUploader& uploader_;
  store::Store& store_;
  Clock& clock_;
  defender::AllowList allow_list_;
  std::atomic<bool> stop_{false};
};

}  // namespace vc::sentinel_feed
