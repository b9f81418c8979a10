// The collection script, modelled. The real script (scripts/live-response/
// vmray-connector-collect.ps1) cannot run here, so the emulator does what it does with the same
// checks and the same outcome line: decode the one base64 JSON argument, find the quarantined
// item, PUT it (restored, or as Defender's encrypted resource file) to the upload link with a
// plain HTTP request as Invoke-WebRequest would, and report one outcome.
//
// One deliberate difference: the script accepts only https upload links; the model also
// accepts http to 127.0.0.1/localhost, because Azurite in the tests and the demo serves http.
#include <fmt/format.h>

#include <regex>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/time.hpp"
#include "http/curl_transport.hpp"
#include "mde_emulator.hpp"
#include "mde_odata.hpp"
#include "pipelines/defender_alerts/quarantine_file.hpp"

namespace vc::emu {
namespace {

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool SameText(std::string_view a, std::string_view b) {
  return ToLower(std::string(a)) == ToLower(std::string(b));
}

// What Invoke-WebRequest -Method Put -InFile does, reduced to its outcome text ('' on success).
std::string Upload(const std::string& url, const std::string& bytes) {
  static http::CurlTransport transport(http::TransportOptions{});
  http::Request put;
  put.method = http::Method::kPut;
  put.url = url;
  put.headers.Set("x-ms-blob-type", "BlockBlob");
  put.headers.Set("Content-Type", "application/octet-stream");
  put.body = bytes;
  auto res = transport.Send(put);
  if (!res) return "the storage account could not be reached";
  if (res->status != 201) return fmt::format("the storage account answered HTTP {}", res->status);
  return "";
}

}  // namespace

std::optional<std::string> MdeEmulator::SeedQuarantine(const Json& m, MachineRecord& record) const {
  if (m.contains("exclusion_blocked")) {
    if (!m["exclusion_blocked"].is_boolean()) return "exclusion_blocked must be true or false";
    record.exclusion_blocked = m["exclusion_blocked"].get<bool>();
  }
  if (!m.contains("quarantine")) return std::nullopt;
  const Json& items = m["quarantine"];
  if (!items.is_array())
    return "quarantine must be an array of {\"threat\", \"file\" (base64), \"path\"}";
  std::vector<QuarantineItem> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& q = items[i];
    const std::string where = fmt::format("quarantine[{}]", i);
    if (!q.is_object()) return where + " must be an object";
    for (const auto& [key, _] : q.items()) {
      if (key != "threat" && key != "file" && key != "path")
        return where + ": unknown key '" + key + "' (known: threat, file, path)";
    }
    if (!q.contains("threat") || !q["threat"].is_string())
      return where + ".threat must be the threat name";
    auto bytes = q.contains("file") && q["file"].is_string()
                     ? vc::Base64Decode(q["file"].get<std::string>())
                     : std::nullopt;
    if (!bytes) return where + ".file must be the file's bytes in standard base64";
    QuarantineItem item;
    item.threat = q["threat"].get<std::string>();
    item.path = q.value("path", "C:\\Users\\Public\\" + item.threat);
    item.sha256 = vc::Sha256Hex(*bytes);
    item.sha1 = Upper(vc::Sha1Hex(*bytes));
    item.bytes = std::move(*bytes);
    out.push_back(std::move(item));
  }
  record.quarantine = std::move(out);
  return std::nullopt;
}

MdeEmulator::ScriptOutcome MdeEmulator::RunCollectionScript(const ScriptRun& run,
                                                            const MachineRecord& machine) {
  Json record{{"action_id", run.action_id}, {"machine_id", run.machine_id}};
  std::string request_id;
  auto finish = [&](const std::string& outcome, const std::string& detail,
                    const std::string& sha256 = "", int64_t size = 0) {
    record["outcome"] = outcome;
    record["detail"] = detail;
    record["request_id"] = request_id;
    if (!sha256.empty()) record["sha256"] = sha256;  // the file handed over
    script_runs_.push_back(record);
    ScriptOutcome o;
    o.exit_code = 0;
    o.script_output = Json{{"v", 1},           {"request_id", request_id}, {"outcome", outcome},
                           {"detail", detail}, {"sha256", sha256},         {"size", size}}
                          .dump() +
                      "\r\n";
    return o;
  };

  static const std::regex kBase64("^[A-Za-z0-9+/]+={0,2}$");
  const std::string arg = run.args.value_or("");
  if (arg.size() > 16384 || !std::regex_match(arg, kBase64))
    return finish("bad_request", "the argument is not a base64 request");
  auto decoded = vc::Base64Decode(arg);
  Json req = decoded ? Json::parse(*decoded, nullptr, false) : Json();
  if (!decoded || req.is_discarded() || !req.is_object())
    return finish("bad_request", "the argument does not decode to a JSON request");
  static const std::regex kRequestId("^[A-Za-z0-9-]{1,64}$");
  if (req.contains("request_id") && req["request_id"].is_string() &&
      std::regex_match(req["request_id"].get<std::string>(), kRequestId)) {
    request_id = req["request_id"].get<std::string>();
  }
  if (req.value("v", 0) != 1) return finish("bad_request", "unsupported request version");
  const std::string mode = req.value("mode", "");
  record["mode"] = mode;
  if (mode != "restore" && mode != "encrypted") return finish("bad_request", "unknown mode");

  const std::string url = req.value("upload_url", "");
  static const std::regex kHttps(R"(^https://[A-Za-z0-9.-]+(:[0-9]+)?/[^\s]+$)");
  static const std::regex kLoopback(R"(^http://(127\.0\.0\.1|localhost)(:[0-9]+)?/[^\s]+$)");
  if (!std::regex_match(url, kHttps) && !std::regex_match(url, kLoopback))
    return finish("bad_request", "the upload URL is not an https URL");
  // The service's side of the contract: a service SAS for one blob, create+write only.
  const auto query_at = url.find('?');
  const httplib::Params sas =
      odata::ParseQuery(query_at == std::string::npos ? "" : url.substr(query_at));
  auto sas_param = [&](const char* name) {
    return sas.count(name) == 1 ? odata::ParamValue(sas, name) : std::string();
  };
  record["sas"] = {{"sp", sas_param("sp")},
                   {"sr", sas_param("sr")},
                   {"spr", sas_param("spr")},
                   {"se", sas_param("se")}};
  if (sas_param("sp") != "cw" || sas_param("sr") != "b" || sas_param("sig").empty()) {
    return finish("bad_request",
                  "emulator: the upload link must be a blob SAS with permissions cw (sr=b, "
                  "sp=cw), got sr=" +
                      sas_param("sr") + " sp=" + sas_param("sp"));
  }
  const auto expiry = ParseIso8601(sas_param("se"));
  if (!expiry || *expiry > clock().Now() + std::chrono::hours(24)) {
    return finish("bad_request", "emulator: the upload link must expire within 24 hours");
  }
  const int64_t max_bytes = req.value("max_bytes", int64_t{0});
  if (max_bytes <= 0) return finish("bad_request", "max_bytes must be positive");

  if (mode == "encrypted") {
    const std::string sha1 = Upper(req.value("sha1", ""));
    static const std::regex kSha1("^[0-9A-F]{40}$");
    if (!std::regex_match(sha1, kSha1)) return finish("bad_request", "sha1 must be 40 hex digits");
    for (const auto& q : machine.quarantine) {
      if (q.sha1 != sha1) continue;
      const std::string resource = defender::EncryptQuarantineResource(q.bytes);
      const auto size = static_cast<int64_t>(resource.size());
      if (size > max_bytes)
        return finish("too_large", "the quarantine resource file is larger than allowed", "", size);
      if (auto failure = Upload(url, resource); !failure.empty())
        return finish("upload_failed", failure, "", size);
      record["uploaded_bytes"] = size;
      record["sha256"] = q.sha256;  // state only: the script itself cannot know it
      return finish("collected_encrypted", "uploaded the encrypted quarantine resource file", "",
                    size);
    }
    return finish("not_in_quarantine", "no quarantine resource file for this SHA-1");
  }

  std::vector<std::string> wanted;
  static const std::regex kSha256("^[0-9a-f]{64}$");
  if (req.contains("sha256") && req["sha256"].is_array()) {
    for (const auto& h : req["sha256"]) {
      const std::string s = h.is_string() ? ToLower(h.get<std::string>()) : "";
      if (!std::regex_match(s, kSha256))
        return finish("bad_request", "sha256 entries must be 64 hex digits");
      wanted.push_back(s);
    }
  }
  if (wanted.empty()) return finish("bad_request", "no sha256 given");
  const std::string threat = req.value("threat", "");
  if (threat.size() > 512) return finish("bad_request", "threat name too long");
  if (machine.exclusion_blocked) {
    return finish("exclusion_blocked",
                  "a policy keeps the temporary Defender exclusion from applying (tamper "
                  "protection, Intune local admin merge)");
  }
  std::vector<const QuarantineItem*> restored;
  for (const auto& q : machine.quarantine) {
    if (threat.empty() || SameText(q.threat, threat)) restored.push_back(&q);
  }
  if (restored.empty()) {
    return finish("not_in_quarantine",
                  "Defender restored nothing for this threat (not quarantined yet, or removed)");
  }
  for (const QuarantineItem* q : restored) {
    if (std::find(wanted.begin(), wanted.end(), q->sha256) == wanted.end()) continue;
    const auto size = static_cast<int64_t>(q->bytes.size());
    if (size > max_bytes)
      return finish("too_large", "the restored file is larger than allowed", q->sha256, size);
    if (auto failure = Upload(url, q->bytes); !failure.empty())
      return finish("upload_failed", failure, q->sha256, size);
    record["uploaded_bytes"] = size;
    return finish("collected", "restored and uploaded the file", q->sha256, size);
  }
  return finish("hash_mismatch", fmt::format("restored {} item(s), none with the expected SHA-256",
                                             restored.size()));
}

}  // namespace vc::emu
