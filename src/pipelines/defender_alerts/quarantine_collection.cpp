// The antivirus half of EvidenceJob: files Defender Antivirus put in quarantine are handed over
// by the collection script (scripts/live-response/vmray-connector-collect.ps1) through a blob
// that only this one collection may write, then read, checked and deleted here.
//
// Order of events, each safe to repeat after a crash:
//   collecting          library holds the script; the blob name is written ahead into the job;
//                       a write-only SAS for that blob is signed; RunScript starts
//   collection_pending  the action runs (a queued action whose link expired is asked again)
//   downloading         transcript -> classified outcome; blob -> size, decrypt, SHA-256;
//                       submit; the blob is deleted by an outbox item once the job moves on
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/hash.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "jobs/retry.hpp"
#include "pipelines/defender_alerts/collection_script.hpp"
#include "pipelines/defender_alerts/evidence_job.hpp"
#include "pipelines/defender_alerts/quarantine_file.hpp"

namespace vc::defender {
namespace {

using jobs::StepResult;

// Room for the quarantine file's headers around the original bytes.
constexpr int64_t kEncryptedOverhead = 64 * 1024;

StepResult GoTo(std::string state, std::string reason, const EvidencePayload& p,
                Millis delay = Millis(0)) {
  StepResult r;
  r.state = std::move(state);
  r.reason = std::move(reason);
  r.payload = p.Dump();
  r.delay = delay;
  return r;
}

bool InCollection(const std::string& state) {
  return state == "collecting" || state == "collection_pending" || state == "downloading" ||
         state == "waiting_for_analysis_slot";  // the upload blob is submitted after the wait
}

// What the analyst reads for each outcome the script can report, and whether another session
// can help.
struct OutcomeText {
  std::string_view outcome;
  std::string_view text;
  bool retry;
};

constexpr OutcomeText kOutcomes[] = {
    {"not_in_quarantine",
     "Defender on the device holds no quarantined item for this threat (not quarantined yet, "
     "already restored or removed)",
     true},
    {"hash_mismatch",
     "the quarantined items of this threat on the device do not include the file with the "
     "alert's SHA-256",
     false},
    {"too_large", "the file is larger than vmray.max_file_size_bytes allows", false},
    {"upload_failed", "the device could not upload the file to the storage account", true},
    {"exclusion_blocked",
     "a policy (tamper protection, Intune) blocked the temporary Defender exclusion the restore "
     "needs; set defender.quarantine.mode = \"encrypted\", which needs no exclusion",
     false},
    {"restore_failed", "restoring the file from quarantine failed on the device", true},
    {"defender_missing", "Microsoft Defender Antivirus (MpCmdRun.exe) is not on the device", false},
    {"bad_request",
     "the collection script refused the connector's request (a connector bug: please report it "
     "with the job's log lines)",
     false},
};

const OutcomeText* FindOutcome(std::string_view outcome) {
  for (const auto& o : kOutcomes) {
    if (o.outcome == outcome) return &o;
  }
  return nullptr;
}

}  // namespace

std::optional<StepResult> EvidenceJob::PrepareQuarantine(const jobs::StepContext& ctx,
                                                         EvidencePayload& p,
                                                         mde::LiveResponseCommand& command) {
  if (quarantine_.library) {
    if (auto s = quarantine_.library->Ensure(); !s) {
      if (s.error().code == ErrorCode::kPermissionDenied) {
        return jobs::RetryStep(ctx.job, s.error(),
                               "putting the collection script into the Live Response library "
                               "(grant the app registration Library.Manage)");
      }
      return jobs::RetryStep(ctx.job, s.error(),
                             "putting the collection script into the Live Response library");
    }
  }
  if (!container_ready_.load()) {
    // Created on first use rather than at start, so a storage outage delays only this work.
    auto created = quarantine_.blob->CreateContainerIfMissing(blob::kQuarantineContainer);
    if (!created)
      return jobs::RetryStep(ctx.job, created.error(), "creating the storage container");
    container_ready_ = true;
  }
  const bool encrypted = options_.quarantine_encrypted && p.sha1.size() == 40;
  // Write-ahead: the job knows the blob before the device can write it, so a crash between
  // starting the session and recording it still finds (and later deletes) the right blob.
  const std::string token = DefaultRandom().HexToken(12);
  std::string blob_name = p.blob_name;
  if (blob_name.empty() || p.collection_request_id.empty()) {
    blob_name = fmt::format("{}/{}/{}", p.alert_id, p.sha256, token);
    EvidencePayload ahead = p;
    ahead.blob_name = blob_name;
    ahead.collection_request_id = token;
    ahead.encrypted_upload = encrypted;
    if (auto s = ctx.checkpoint(ahead.Dump()); !s)
      return jobs::RetryStep(ctx.job, s.error(), "recording the upload blob");
    p = std::move(ahead);
  }
  auto sas = quarantine_.blob->MakeWriteOnlySas(
      blob::kQuarantineContainer, p.blob_name,
      std::chrono::duration_cast<std::chrono::minutes>(options_.upload_window));
  if (!sas) {
    // The blob name is validated there; alert ids and hashes always pass, so this is config.
    return Fail(ctx, p, "collection", "could not sign the upload link: " + sas.error().message);
  }
  CollectionRequest request;
  request.mode = p.encrypted_upload ? "encrypted" : "restore";
  request.threat = p.threat_name;
  request.sha256 = {p.sha256};
  request.sha1 = p.sha1;
  request.upload_url = sas->upload_url.Reveal();
  request.max_bytes = options_.max_file_size + (p.encrypted_upload ? kEncryptedOverhead : 0);
  request.request_id = p.collection_request_id;
  command = {"RunScript",
             {{"ScriptName", std::string(kCollectionScriptName)},
              {"Args", EncodeCollectionArgs(request)}}};
  return std::nullopt;
}

StepResult EvidenceJob::RetryCollection(const jobs::StepContext& ctx, EvidencePayload& p,
                                        const std::string& outcome, const std::string& detail,
                                        Millis delay) {
  p.outcome = outcome;
  if (p.CountedAttempts() >= options_.lr_max_attempts) {
    return Fail(
        ctx, p, "collection",
        fmt::format("{}; tried {} times (MachineAvailabilityRetry)", detail, p.CountedAttempts()));
  }
  p.action_id.clear();
  // A new session gets a new blob and link; the old blob is deleted (RetireBlob).
  p.blob_name.clear();
  p.collection_request_id.clear();
  return GoTo("collecting",
              fmt::format("{}; trying again (attempt {} of {})", detail, p.CountedAttempts() + 1,
                          options_.lr_max_attempts),
              p, delay);
}

StepResult EvidenceJob::OnQuarantineDownload(const jobs::StepContext& ctx, EvidencePayload& p) {
  if (p.outcome != "uploaded") {
    auto link = mde_.LiveResponseResultLink(p.action_id, p.command_index);
    if (!link)
      return jobs::RetryStep(ctx.job, link.error(), "getting the collection script's output link");
    auto transcript = mde_.Download(*link);
    if (!transcript)
      return jobs::RetryStep(ctx.job, transcript.error(), "downloading the script output");
    auto outcome = ParseCollectionTranscript(*transcript);
    if (!outcome) {
      return RetryCollection(ctx, p, "script_output_unreadable",
                             "the collection script's output on " + DeviceName(p) +
                                 " was not readable (" + outcome.error().message + ")",
                             options_.busy_wait);
    }
    if (outcome->request_id != p.collection_request_id) {
      return RetryCollection(ctx, p, "script_output_unreadable",
                             "the collection script answered another request than this one",
                             options_.busy_wait);
    }
    if (!outcome->Collected()) {
      const OutcomeText* known = FindOutcome(outcome->outcome);
      const std::string text =
          fmt::format("{} ({} on {})", known ? std::string(known->text) : outcome->outcome,
                      outcome->outcome, DeviceName(p));
      if (known && known->retry) {
        // Quarantine may lag the alert; an upload may meet a network blip.
        return RetryCollection(ctx, p, outcome->outcome, text, options_.busy_wait);
      }
      p.outcome = outcome->outcome;
      return Fail(ctx, p, "collection", text);
    }
    p.outcome = "uploaded";
  }

  const int64_t limit = options_.max_file_size + (p.encrypted_upload ? kEncryptedOverhead : 0);
  auto content = quarantine_.blob->GetBlob(blob::kQuarantineContainer, p.blob_name, limit);
  if (!content) {
    const Error& e = content.error();
    if (e.code == ErrorCode::kNotFound) {
      return RetryCollection(ctx, p, "upload_failed",
                             "the script on " + DeviceName(p) +
                                 " reported an upload, but the blob is not in the storage account",
                             options_.busy_wait);
    }
    if (e.code == ErrorCode::kInvalidArgument) {
      p.outcome = "too_large";
      return Fail(ctx, p, "collection",
                  fmt::format("the uploaded file is larger than vmray.max_file_size_bytes ({} "
                              "bytes); nothing was submitted",
                              options_.max_file_size));
    }
    return jobs::RetryStep(ctx.job, e, "reading the uploaded file from the storage account");
  }
  if (content->data.empty()) {
    return RetryCollection(ctx, p, "upload_failed",
                           "the blob the script on " + DeviceName(p) + " uploaded is empty",
                           options_.busy_wait);
  }
  std::string file = std::move(content->data);
  if (p.encrypted_upload) {
    auto plain = DecryptQuarantineResource(file, static_cast<size_t>(options_.max_file_size));
    if (!plain) {
      p.outcome =
          plain.error().message.find("larger") != std::string::npos ? "too_large" : "hash_mismatch";
      return Fail(ctx, p, "collection",
                  "the quarantine file uploaded from " + DeviceName(p) +
                      " could not be decrypted: " + plain.error().message);
    }
    file = std::move(*plain);
  }
  if (Sha256Hex(file) != p.sha256) {
    p.outcome = "hash_mismatch";
    return Fail(ctx, p, "collection",
                fmt::format("the file handed over from the quarantine of {} has SHA-256 {}, not "
                            "the alert's; nothing was submitted",
                            DeviceName(p), Sha256Hex(file)));
  }
  return SubmitFile(ctx, p, std::move(file));
}

void EvidenceJob::RetireBlob(const jobs::StepContext& ctx, StepResult& r) const {
  auto before = EvidencePayload::Parse(ctx.job.payload);
  if (!before) return;
  std::optional<EvidencePayload> after;
  if (r.payload) {
    auto parsed = EvidencePayload::Parse(*r.payload);
    if (parsed) after = std::move(*parsed);
  }
  const bool leaving = !InCollection(r.state);
  if (leaving && after && InCollection(ctx.job.state) && !after->outcome.empty()) {
    Metrics::Global().Inc("vc_live_response_outcomes_total", {{"outcome", after->outcome}});
  }
  // The payload a step returns may still name the blob while leaving the collection.
  if (after && leaving && !after->blob_name.empty()) {
    after->blob_name.clear();
    after->collection_request_id.clear();
    r.payload = after->Dump();
  }
  const std::string& old_blob = before->blob_name;
  if (old_blob.empty() || !quarantine_.blob) return;
  const std::string new_blob = after ? after->blob_name : old_blob;
  if (!leaving && new_blob == old_blob) return;
  store::NewOutboxItem item;
  item.idempotency_key = "blob-delete:" + old_blob;
  item.kind = "blob_delete";
  item.target = std::string(blob::kQuarantineContainer);
  item.payload =
      Json{{"container", std::string(blob::kQuarantineContainer)}, {"blob", old_blob}}.dump();
  item.completes_job = false;
  r.outbox.push_back(std::move(item));
}

jobs::Delivery BlobDeleter::Deliver(const store::OutboxItem& item, TimePoint) {
  jobs::Delivery d;
  auto payload = ParseJson(item.payload, "blob deletion");
  if (!payload || !payload->is_object()) {
    d.outcome = jobs::Delivery::Outcome::kFailed;
    d.reason = "unreadable blob deletion request";
    return d;
  }
  const std::string container = payload->value("container", "");
  const std::string blob = payload->value("blob", "");
  // Only blobs this connector named in its own container, never anything else.
  if (container != blob::kQuarantineContainer || blob.empty()) {
    d.outcome = jobs::Delivery::Outcome::kFailed;
    d.reason = "refusing to delete a blob outside " + std::string(blob::kQuarantineContainer);
    return d;
  }
  auto deleted = blob_.DeleteBlob(container, blob);
  if (deleted) {
    d.outcome = jobs::Delivery::Outcome::kDone;
    d.reason = *deleted ? "upload blob deleted" : "upload blob was already gone";
    return d;
  }
  if (item.attempts >= 30) {
    d.outcome = jobs::Delivery::Outcome::kFailed;
    d.reason = "gave up deleting upload blob " + blob + ": " + deleted.error().ToString() +
               "; delete it by hand";
    spdlog::error("{}", d.reason);
    return d;
  }
  d.outcome = jobs::Delivery::Outcome::kRetry;
  d.delay = std::min(Millis(30 * 60'000), Millis(10'000LL << std::min(item.attempts, 7)));
  d.reason = "deleting upload blob: " + deleted.error().ToString();
  return d;
}

}  // namespace vc::defender
