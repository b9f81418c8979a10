#include "vmray_documents.hpp"
#include "core/html.hpp"

#include <fmt/format.h>

#include "core/time.hpp"
#include "vmray_digest.hpp"
#include "vmray_fixtures.hpp"
#include "vmray_generator.hpp"

namespace vc::emu::vmray {
namespace {

const Json& Data(std::string_view file) {
  return FixtureJson(file).at("data");
}

Json NullOr(const std::optional<std::string>& value) {
  return value ? Json(*value) : Json(nullptr);
}

bool IsUrlSample(const Sample& s) {
  return s.url.has_value();
}

// Job rule and VM configuration as in the captures: "ie"/"URL" for URL samples (submit_url
// capture) and "exe"/"Windows PE (x86)" for files (analysis capture).
std::string_view ConfigurationName(const Sample& s) {
  return IsUrlSample(s) ? "ie" : "exe";
}
std::string_view JobruleSampleType(const Sample& s) {
  return IsUrlSample(s) ? "URL" : "Windows PE (x86)";
}
int ConfigurationId(const Sample& s) {
  return IsUrlSample(s) ? 54 : 2;
}
int JobruleId(const Sample& s) {
  return IsUrlSample(s) ? 5 : 1;
}

int NumericSeverity(Verdict v) {
  switch (v) {
    case Verdict::kMalicious:
      return 4;
    case Verdict::kSuspicious:
      return 3;
    default:
      return 0;
  }
}

// Network indicators an analysis of this sample "observed". Derived from the sample so two
// samples never share IOCs by accident, and URL samples report their own URL and host.
struct NetworkIocs {
  std::string domain, ip, url;
};

std::string HostOf(std::string_view url) {
  if (auto scheme = url.find("://"); scheme != std::string_view::npos)
    url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() != '[') url = url.substr(0, url.find(':'));
  return std::string(url);
}

NetworkIocs DeriveNetworkIocs(const Sample& s) {
  NetworkIocs n;
  const int last_octet = 1 + std::stoi(s.sha256.substr(0, 2), nullptr, 16) % 254;
  n.ip = fmt::format("198.51.100.{}", last_octet);  // TEST-NET-2, never routed
  if (s.url) {
    n.url = *s.url;
    n.domain = HostOf(*s.url);
  }
  if (n.domain.empty()) n.domain = fmt::format("c2-{}.example.net", s.sha256.substr(0, 8));
  if (n.url.empty()) n.url = fmt::format("http://{}/gate.php", n.domain);
  return n;
}

// Fields every IOC type shares (api-reference 1.4, "IOC entries").
void SetCommonIocFields(Json& entry, const Sample& s, int id, Verdict verdict, bool ioc,
                        std::string_view ioc_type, std::string_view type) {
  const bool flagged = verdict == Verdict::kMalicious || verdict == Verdict::kSuspicious;
  entry["analysis_ids"] = s.last_analysis_ids;
  entry["classifications"] = flagged ? s.outcome.classifications : std::vector<std::string>{};
  entry["id"] = id;
  entry["ioc"] = ioc;
  entry["ioc_type"] = ioc_type;
  entry["numeric_severity"] = NumericSeverity(verdict);
  entry["parent_processes"] = Json::array();
  entry["parent_processes_ids"] = Json::array();
  entry["parent_processes_names"] = Json::array();
  entry["severity"] = SeverityName(verdict);
  entry["threat_names"] = flagged ? s.outcome.threat_names : std::vector<std::string>{};
  entry["type"] = type;
  entry["verdict"] = VerdictName(verdict);
  entry["verdict_reason_code"] = nullptr;
  entry["verdict_reason_description"] = "";
  entry["version"] = 3;
  entry["vtis"] = Json::array();
}

Json FileIoc(const Sample& s, const NetworkIocs& net, Verdict verdict) {
  Json entry = Data("sample_iocs_large.json").at("iocs").at("files").at(0);
  SetCommonIocFields(entry, s, 0, verdict, true, "file", "file_artifact");
  std::string md5 = s.md5, sha1 = s.sha1, sha256 = s.sha256, ssdeep = s.ssdeep;
  std::string name = s.filename;
  std::string category = "Sample File";
  int64_t size = s.filesize;
  if (IsUrlSample(s)) {
    // A URL sample has no file of its own; report the payload the page delivered.
    const std::string seed = "payload:" + s.sha256;
    md5 = Md5Hex(seed);
    sha1 = Sha1Hex(seed);
    sha256 = Sha256Hex(seed);
    ssdeep = SsdeepLike(sha256, 4096);
    name = "payload.exe";
    category = "Downloaded File";
    size = 4096;
    entry["resource_url"] = Json::array({net.url});
  } else {
    entry["resource_url"] = Json::array();
  }
  entry["categories"] = Json::array({category});
  entry["file_size"] = size;
  entry["filename"] = name;
  entry["filenames"] = Json::array({name});
  entry["norm_filename"] = name;
  entry["hashes"] = Json::array({{{"imp_hash", nullptr},
                                  {"md5_hash", md5},
                                  {"sha1_hash", sha1},
                                  {"sha256_hash", sha256},
                                  {"ssdeep_hash", ssdeep}}});
  entry["mime_type"] = "application/octet-stream";
  entry["operations"] = Json::array();
  entry["parent_files"] = Json::array();
  entry["relations"] = Json::array();
  return entry;
}

Json DomainIoc(const Sample& s, const NetworkIocs& net, int id, Verdict verdict) {
  Json entry =
      FixtureJson("sample_iocs_data_domain_splunk_testdata.json").at("iocs").at("domains").at(0);
  SetCommonIocFields(entry, s, id, verdict, true, "domain", "domain_artifact");
  entry["domain"] = net.domain;
  entry["original_domains"] = Json::array({net.domain});
  entry["ip_addresses"] = Json::array({net.ip});
  entry["protocols"] = Json::array({"dns"});
  entry["sources"] = Json::array({IsUrlSample(s) ? "Submitted URL" : "Embedded in File"});
  return entry;
}

Json IpIoc(const Sample& s, const NetworkIocs& net, int id, Verdict verdict) {
  Json entry = Json::object();
  SetCommonIocFields(entry, s, id, verdict, true, "ip", "ip_artifact");
  entry["ip_address"] = net.ip;
  entry["domains"] = Json::array({net.domain});
  entry["country"] = "";
  entry["country_code"] = "";
  entry["protocols"] = Json::array({"tcp"});
  entry["sources"] = Json::array({"Network Traffic"});
  return entry;
}

Json UrlIoc(const Sample& s, const NetworkIocs& net, int id, Verdict verdict) {
  Json entry = Json::object();
  SetCommonIocFields(entry, s, id, verdict, true, "url", "url_artifact");
  entry["url"] = net.url;
  entry["original_urls"] = Json::array({net.url});
  entry["categories"] = Json::array();
  entry["content_types"] = Json::array({"text/html"});
  entry["countries"] = Json::array();
  entry["country_codes"] = Json::array();
  entry["ip_addresses"] = Json::array({net.ip});
  entry["methods"] = Json::array({"GET"});
  entry["referrers"] = Json::array();
  entry["user_agents"] = Json::array();
  entry["sources"] = Json::array({IsUrlSample(s) ? "Submitted URL" : "Network Traffic"});
  return entry;
}

// The captured domain artifact, unchanged but for its analysis ids: a clean, non-IOC artifact
// that only all_artifacts=true returns.
Json CleanArtifact(const Sample& s, int id) {
  Json entry =
      FixtureJson("sample_iocs_data_domain_splunk_testdata.json").at("iocs").at("domains").at(0);
  entry["analysis_ids"] = s.last_analysis_ids;
  entry["id"] = id;
  entry["ioc"] = false;
  return entry;
}

bool KeepVti(const Json& vti, Verdict verdict) {
  if (verdict == Verdict::kMalicious) return true;
  // A suspicious result has the weaker indicators only: nothing scored 4 or 5.
  return verdict == Verdict::kSuspicious && vti.at("score").get<int>() < 4;
}

std::string Page(std::string_view title, std::string_view body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head>\n"
      "<body><h1>{0}</h1>\n{1}</body></html>\n",
      EscapeHtml(title), body);
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + EscapeHtml(item);
  return out.empty() ? "-" : out;
}

}  // namespace

std::string SampleWebifUrl(std::string_view webif, int64_t sample_id) {
  return fmt::format("{}/user/sample/view?id={}", webif, sample_id);
}

std::string AnalysisWebifUrl(std::string_view webif, int64_t analysis_id) {
  return fmt::format("{}/user/analysis/view?id={}&sub=%2Freport%2Foverview.html", webif,
                     analysis_id);
}

Json SystemInfoDocument(std::string_view webif, int page_size, int64_t max_upload_size) {
  Json info = Data("system_info.json");
  info["webif_base_url"] = webif;
  info["api_items_per_request"] = page_size;
  info["webif_max_upload_size"] = max_upload_size;
  info["webif_max_sample_size"] = max_upload_size;
  return info;
}

Json SampleDocument(const Sample& s, std::string_view webif) {
  Json doc = Data("sample_details_malicious.json");
  const Verdict v = s.outcome.verdict;
  const bool analysed = v != Verdict::kNotAvailable;
  doc["sample_child_sample_ids"] = s.child_ids;
  doc["sample_parent_sample_ids"] = s.parent_ids;
  doc["sample_classifications"] = s.outcome.classifications;
  doc["sample_threat_names"] = s.outcome.threat_names;
  doc["sample_created"] = FormatVmrayTime(s.created);
  doc["sample_display_url"] = NullOr(s.url);
  doc["sample_url"] = NullOr(s.url);
  doc["sample_filename"] = s.filename;
  doc["sample_filesize"] = s.filesize;
  doc["sample_id"] = s.id;
  doc["sample_imphash"] = nullptr;
  doc["sample_md5hash"] = s.md5;
  doc["sample_sha1hash"] = s.sha1;
  doc["sample_sha256hash"] = s.sha256;
  doc["sample_ssdeephash"] = s.ssdeep;
  doc["sample_type"] = s.type;
  doc["sample_verdict"] = VerdictName(v);
  doc["sample_severity"] = SeverityName(v);
  doc["sample_highest_vti_severity"] = SeverityName(v);
  doc["sample_vti_score"] = analysed ? s.outcome.vti_score : 0;
  doc["sample_score"] = analysed ? s.outcome.vti_score : 0;
  doc["sample_highest_vti_score"] = analysed ? s.outcome.vti_score : 0;
  doc["sample_webif_url"] = SampleWebifUrl(webif, s.id);
  return doc;
}

Json SubmissionDocument(const Submission& sub, const Sample& s, std::string_view webif) {
  Json doc = Data("submission_finished_misp_feed.json");
  const bool done = sub.finished();
  doc["submission_analyzer_mode_analyzer_mode"] = sub.analyzer_mode;
  doc["submission_comment"] = NullOr(sub.comment);
  doc["submission_created"] = FormatVmrayTime(sub.created);
  doc["submission_filename"] = sub.filename;
  doc["submission_finish_time"] = done ? Json(FormatVmrayTime(*sub.finish_time)) : Json(nullptr);
  doc["submission_finished"] = done;
  doc["submission_has_errors"] = false;
  doc["submission_id"] = sub.id;
  doc["submission_ip_ip"] = sub.client_ip;
  doc["submission_original_filename"] = NullOr(sub.original_name);
  doc["submission_original_url"] = NullOr(sub.url);
  doc["submission_sample_id"] = s.id;
  doc["submission_sample_md5"] = s.md5;
  doc["submission_sample_sha1"] = s.sha1;
  doc["submission_sample_sha256"] = s.sha256;
  doc["submission_sample_ssdeep"] = s.ssdeep;
  doc["submission_shareable"] = sub.shareable;
  doc["submission_tags"] = sub.tags;
  doc["submission_type"] = "api";
  doc["submission_webif_url"] = SampleWebifUrl(webif, s.id);
  // Verdict fields only mean something once the analysis is over.
  doc["submission_status"] = done ? Json("success") : Json(nullptr);
  doc["submission_verdict"] = done ? Json(VerdictName(sub.outcome.verdict)) : Json(nullptr);
  doc["submission_score"] = done ? Json(sub.outcome.vti_score) : Json(nullptr);
  doc["submission_severity"] = done ? Json(SeverityName(sub.outcome.verdict)) : Json(nullptr);
  return doc;
}

Json JobDocument(const Submission& sub, const Sample& s) {
  Json doc = FixtureJson("submit_url_response_jobs_rapid7.json").at("data").at("jobs").at(0);
  doc["job_configuration_id"] = ConfigurationId(s);
  doc["job_configuration_name"] = ConfigurationName(s);
  doc["job_created"] = FormatVmrayTime(sub.created);
  doc["job_id"] = sub.job_id;
  doc["job_jobrule_id"] = JobruleId(s);
  doc["job_jobrule_sampletype"] = JobruleSampleType(s);
  doc["job_reputation_job_id"] = nullptr;
  doc["job_sample_id"] = s.id;
  doc["job_sample_md5"] = s.md5;
  doc["job_sample_sha1"] = s.sha1;
  doc["job_sample_sha256"] = s.sha256;
  doc["job_sample_ssdeep"] = s.ssdeep;
  doc["job_status"] = sub.job_started ? "inwork" : "queued";
  doc["job_statuschanged"] = FormatVmrayTime(sub.job_started.value_or(sub.created));
  doc["job_submission_id"] = sub.id;
  doc["job_vnc_token"] = Sha256Hex(fmt::format("vnc:{}", sub.job_id)).substr(0, 32);
  return doc;
}

Json AnalysisDocument(const Submission& sub, const Sample& s, std::string_view webif) {
  Json doc = Data("analyses_by_submission_id.json").at(0);
  const Verdict v = sub.outcome.verdict;
  const std::string finished = FormatVmrayTime(sub.finish_time.value_or(sub.created));
  doc["analysis_configuration_id"] = ConfigurationId(s);
  doc["analysis_configuration_name"] = ConfigurationName(s);
  doc["analysis_created"] = finished;
  doc["analysis_id"] = sub.job_id;
  doc["analysis_job_id"] = sub.job_id;
  doc["analysis_job_started"] = FormatVmrayTime(sub.job_started.value_or(sub.created));
  doc["analysis_jobrule_id"] = JobruleId(s);
  doc["analysis_jobrule_sampletype"] = JobruleSampleType(s);
  doc["analysis_sample_id"] = s.id;
  doc["analysis_sample_md5"] = s.md5;
  doc["analysis_sample_sha1"] = s.sha1;
  doc["analysis_sample_sha256"] = s.sha256;
  doc["analysis_sample_ssdeep"] = s.ssdeep;
  doc["analysis_severity"] = SeverityName(v);
  doc["analysis_submission_id"] = sub.id;
  doc["analysis_submission_ids"] = Json::array({sub.id});
  doc["analysis_verdict"] = VerdictName(v);
  doc["analysis_vti_score"] = sub.outcome.vti_score;
  doc["analysis_webif_url"] = AnalysisWebifUrl(webif, sub.job_id);
  return doc;
}

Json VtisDocument(const Sample& s) {
  Json out = Json::array();
  for (const Json& vti : Data("sample_vtis.json").at("threat_indicators")) {
    if (!KeepVti(vti, s.outcome.verdict)) continue;
    Json copy = vti;
    copy["analysis_ids"] = s.last_analysis_ids;
    out.push_back(std::move(copy));
  }
  return {{"status", "finished"}, {"threat_indicators", std::move(out)}};
}

Json IocsDocument(const Sample& s, std::optional<Verdict> only, bool all_artifacts) {
  Json iocs = Json::object();
  for (const char* key : {"domains", "email_addresses", "emails", "filenames", "files", "ips",
                          "mutexes", "processes", "registry", "urls"}) {
    iocs[key] = Json::array();
  }
  const Verdict v = s.outcome.verdict;
  const bool flagged = v == Verdict::kMalicious || v == Verdict::kSuspicious;
  auto wanted = [&](Verdict entry_verdict) { return !only || *only == entry_verdict; };
  if (s.generated_iocs) {
    const Json generated = GenerateIocs(s, *s.generated_iocs);
    for (const auto& [family, entries] : generated.items()) {
      for (const auto& e : entries) {
        if (!only || ParseVerdict(e.value("verdict", "")) == only) iocs[family].push_back(e);
      }
    }
    return {{"status", "finished"}, {"iocs", std::move(iocs)}};
  }
  if (s.seeded_iocs) {
    for (const auto& [family, entries] : s.seeded_iocs->items()) {
      iocs[family] = Json::array();
      for (const auto& e : entries) {
        auto ev = ParseVerdict(e.is_object() ? e.value("verdict", "") : "");
        if (!only || (ev && *ev == *only)) iocs[family].push_back(e);
      }
    }
    return {{"status", "finished"}, {"iocs", std::move(iocs)}};
  }
  if (flagged && wanted(v)) {
    const NetworkIocs net = DeriveNetworkIocs(s);
    iocs["files"].push_back(FileIoc(s, net, v));
    iocs["domains"].push_back(DomainIoc(s, net, 0, v));
    iocs["ips"].push_back(IpIoc(s, net, 0, v));
    iocs["urls"].push_back(UrlIoc(s, net, 0, v));
  }
  if (all_artifacts && v != Verdict::kNotAvailable && wanted(Verdict::kClean)) {
    iocs["domains"].push_back(CleanArtifact(s, static_cast<int>(iocs["domains"].size())));
  }
  return {{"status", "finished"}, {"iocs", std::move(iocs)}};
}

Json MitreDocument(const Sample& s) {
  Json out = Json::array();
  for (const Json& technique : Data("sample_mitre_attack.json").at("mitre_attack_techniques")) {
    Json indicators = Json::array();
    for (const Json& vti : technique.at("threat_indicators")) {
      if (!KeepVti(vti, s.outcome.verdict)) continue;
      Json copy = vti;
      copy["analysis_ids"] = s.last_analysis_ids;
      indicators.push_back(std::move(copy));
    }
    if (indicators.empty()) continue;
    Json copy = technique;
    copy["analysis_ids"] = s.last_analysis_ids;
    copy["threat_indicators"] = std::move(indicators);
    out.push_back(std::move(copy));
  }
  return {{"status", "finished"}, {"mitre_attack_techniques", std::move(out)}};
}

std::string SampleViewHtml(const Sample& s) {
  const std::string body = fmt::format(
      "<table>\n<tr><th>File name</th><td>{}</td></tr>\n<tr><th>SHA256</th><td>{}</td></tr>\n"
      "<tr><th>SHA1</th><td>{}</td></tr>\n<tr><th>MD5</th><td>{}</td></tr>\n"
      "<tr><th>Verdict</th><td>{}</td></tr>\n<tr><th>VTI score</th><td>{}</td></tr>\n"
      "<tr><th>Classifications</th><td>{}</td></tr>\n"
      "<tr><th>Threat names</th><td>{}</td></tr>\n</table>\n",
      EscapeHtml(s.url.value_or(s.filename)), s.sha256, s.sha1, s.md5,
      VerdictName(s.outcome.verdict), s.outcome.vti_score, Joined(s.outcome.classifications),
      Joined(s.outcome.threat_names));
  return Page(fmt::format("VMRay sample #{}", s.id), body);
}

std::string AnalysisViewHtml(const Submission& sub, const Sample& s) {
  const std::string body = fmt::format(
      "<p>Submission #{} of <a href=\"/user/sample/view?id={}\">sample #{}</a> ({})</p>\n"
      "<p>Verdict: {}</p>\n",
      sub.id, s.id, s.id, EscapeHtml(sub.filename), VerdictName(sub.outcome.verdict));
  return Page(fmt::format("VMRay analysis #{}", sub.job_id), body);
}

std::string NotFoundHtml(std::string_view what) {
  return Page("Not found", fmt::format("<p>{}</p>\n", EscapeHtml(what)));
}

}  // namespace vc::emu::vmray
