#include "vmray_generator.hpp"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "core/time.hpp"
#include "vmray_digest.hpp"

namespace vc::emu::vmray {
namespace {

// SplitMix64: a stateless mix, so value k of sample i is the same whichever order the client
// asks for samples in.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Draw(uint64_t seed, int64_t index, int64_t slot) {
  return Mix(Mix(Mix(seed) ^ static_cast<uint64_t>(index)) ^ static_cast<uint64_t>(slot));
}

struct Family {
  std::string_view threat_name;
  std::array<std::string_view, 2> classifications;
  std::string_view slug;
};

// Threat names and classifications as VMRay reports them for these families.
constexpr std::array<Family, 8> kFamilies = {{
    {"Emotet", {"Banking Trojan", "Downloader"}, "emotet"},
    {"Qakbot", {"Banking Trojan", "Loader"}, "qbot"},
    {"AgentTesla", {"Spyware", "Keylogger"}, "tesla"},
    {"RedLine", {"Infostealer", "Spyware"}, "redline"},
    {"CobaltStrike", {"Backdoor", "Hacktool"}, "beacon"},
    {"LockBit", {"Ransomware", "Dropper"}, "lockbit"},
    {"AsyncRAT", {"RAT", "Backdoor"}, "async"},
    {"IcedID", {"Loader", "Banking Trojan"}, "iced"},
}};

constexpr std::array<std::string_view, 12> kWords = {"update", "cdn",    "secure", "login",
                                                     "mail",   "static", "api",    "portal",
                                                     "sync",   "office", "cloud",  "files"};
constexpr std::array<std::string_view, 8> kTlds = {"com",  "net", "top", "xyz",
                                                   "info", "ru",  "biz", "online"};
constexpr std::array<std::string_view, 6> kPaths = {"wp-content/plugins/{}/gate.php",
                                                    "admin/{}/index.php",
                                                    "images/{}.jpg",
                                                    "download/{}.exe",
                                                    "api/v1/{}",
                                                    "{}/invoice.doc"};
constexpr std::array<std::string_view, 6> kFileNames = {
    "invoice_{}.exe", "payload_{}.dll", "setup_{}.msi", "{}.tmp", "svchost_{}.exe", "doc_{}.js"};
// First octets of routable address space that commodity C2 commonly sits in.
constexpr std::array<int, 8> kFirstOctets = {45, 77, 91, 103, 141, 176, 185, 194};

const Family& FamilyOf(uint64_t seed, int64_t index) {
  return kFamilies[Draw(seed, index, -1) % kFamilies.size()];
}

std::string Word(uint64_t r) {
  return std::string(kWords[r % kWords.size()]);
}

std::string UniqueDomain(uint64_t r, int64_t index, int64_t slot) {
  return fmt::format("{}-{}{:x}.{}", Word(r), Word(r >> 8), (index * 16 + slot) & 0xffffff,
                     kTlds[(r >> 16) % kTlds.size()]);
}

// Samples of one family share a small pool of C2 domains, as real campaigns do: the feed sees
// the same indicator from many samples and must upload it once with merged labels.
std::string FamilyDomain(const Family& f, uint64_t r) {
  return fmt::format("{}-c2-{}.{}", f.slug, r % 200, kTlds[(r >> 12) % kTlds.size()]);
}

std::string Ipv4(uint64_t r) {
  return fmt::format("{}.{}.{}.{}", kFirstOctets[r % kFirstOctets.size()], (r >> 8) & 0xff,
                     (r >> 16) & 0xff, 1 + ((r >> 24) % 254));
}

std::string Ipv6(uint64_t r) {
  return fmt::format("2a03:b0c0:{:x}:{:x}::{:x}", (r >> 8) & 0xffff, (r >> 24) & 0xffff,
                     1 + ((r >> 40) & 0xfff));
}

Json Common(const Sample& s, int id, Verdict verdict, std::string_view ioc_type,
            std::string_view type) {
  return {{"analysis_ids", s.last_analysis_ids},
          {"classifications", s.outcome.classifications},
          {"id", id},
          {"ioc", true},
          {"ioc_type", ioc_type},
          {"severity", SeverityName(verdict)},
          {"threat_names", s.outcome.threat_names},
          {"type", type},
          {"verdict", VerdictName(verdict)},
          {"verdict_reason_code", nullptr},
          {"verdict_reason_description", ""},
          {"version", 3}};
}

}  // namespace

Result<GenerateSpec> ParseGenerateSpec(const Json& j, TimePoint now) {
  auto bad = [](const std::string& m) { return MakeError(ErrorCode::kInvalidArgument, m); };
  if (!j.is_object()) return bad("seed.generate: expected an object");
  GenerateSpec g;
  g.from = std::chrono::floor<std::chrono::seconds>(now - std::chrono::hours(24 * 30));
  g.to = std::chrono::floor<std::chrono::seconds>(now - std::chrono::hours(1));
  for (const auto& [key, v] : j.items()) {
    if (key == "count" || key == "iocs_per_sample" || key == "seed") {
      const int64_t max = key == "count" ? 1'000'000 : key == "iocs_per_sample" ? 10'000 : -1;
      if (!v.is_number_integer() || v.get<int64_t>() < (key == "seed" ? 0 : 1) ||
          (max > 0 && v.get<int64_t>() > max)) {
        return bad(fmt::format("seed.generate.{}: expected an integer {}", key,
                               key == "seed" ? ">= 0" : fmt::format("in [1, {}]", max)));
      }
      if (key == "count") g.count = v.get<int64_t>();
      if (key == "iocs_per_sample") g.iocs_per_sample = v.get<int>();
      if (key == "seed") g.seed = v.get<uint64_t>();
    } else if (key == "from" || key == "to") {
      auto t = v.is_string() ? ParseVmrayTime(v.get<std::string>()) : std::nullopt;
      if (!t) return bad(fmt::format("seed.generate.{}: expected YYYY-MM-DDTHH:MM:SS (UTC)", key));
      (key == "from" ? g.from : g.to) = *t;
    } else {
      return bad(fmt::format(
          "seed.generate: unknown key '{}' (known: count, iocs_per_sample, seed, from, to)", key));
    }
  }
  if (g.count == 0) return bad("seed.generate.count: required");
  if (g.to < g.from) return bad("seed.generate: 'to' lies before 'from'");
  return g;
}

GeneratedSample GenerateSample(const GenerateSpec& spec, int64_t index) {
  GeneratedSample s;
  const std::string name = fmt::format("vmray-emulator generated {} {}", spec.seed, index);
  s.sha256 = Sha256Hex(name);
  s.sha1 = Sha1Hex(name);
  s.md5 = Md5Hex(name);
  const uint64_t r = Draw(spec.seed, index, -2);
  s.filename = fmt::format(fmt::runtime(kFileNames[r % kFileNames.size()]), s.sha256.substr(0, 8));
  const Family& f = FamilyOf(spec.seed, index);
  // About two thirds malicious, the rest suspicious: what the feed selects by default.
  s.outcome.verdict = (r >> 8) % 3 == 0 ? Verdict::kSuspicious : Verdict::kMalicious;
  s.outcome.threat_names = {std::string(f.threat_name)};
  s.outcome.classifications = {std::string(f.classifications[0]),
                               std::string(f.classifications[1])};
  s.outcome.vti_score = s.outcome.verdict == Verdict::kMalicious ? 75 + static_cast<int>(r % 25)
                                                                 : 40 + static_cast<int>(r % 30);
  const auto span = std::chrono::duration_cast<std::chrono::seconds>(spec.to - spec.from);
  const int64_t offset = spec.count > 1 ? span.count() * index / (spec.count - 1) : 0;
  s.finished = spec.from + std::chrono::seconds(offset);
  return s;
}

Json GenerateIocs(const Sample& sample, const GeneratedIocs& g) {
  Json domains = Json::array(), ips = Json::array(), urls = Json::array(), files = Json::array();
  const Family& f = FamilyOf(g.seed, g.index);
  const Verdict sample_verdict = sample.outcome.verdict;
  for (int k = 0; k < g.count; ++k) {
    const uint64_t r = Draw(g.seed, g.index, k);
    // A malicious sample also reports weaker, suspicious artifacts (every tenth slot).
    const Verdict verdict = k % 10 == 9 ? Verdict::kSuspicious : sample_verdict;
    switch (k % 10) {
      case 0:
      case 1:
      case 2:
      case 9: {
        const std::string domain = k % 10 == 2 ? FamilyDomain(f, r) : UniqueDomain(r, g.index, k);
        Json e = Common(sample, k, verdict, "domain", "domain_artifact");
        e["domain"] = domain;
        e["original_domains"] = Json::array({domain});
        e["ip_addresses"] = Json::array({Ipv4(r >> 3)});
        e["protocols"] = Json::array({"dns"});
        e["sources"] = Json::array({"Network Traffic"});
        domains.push_back(std::move(e));
        break;
      }
      case 3:
      case 4: {
        // VMRay reports some addresses with the port the sample connected to.
        std::string ip;
        if (k % 10 == 4 && g.index % 3 == 0) {
          ip = Ipv6(r);
        } else {
          ip = Ipv4(r);
          if (k % 10 == 4) ip += fmt::format(":{}", std::array{443, 8080, 4444}[r % 3]);
        }
        Json e = Common(sample, k, verdict, "ip", "ip_artifact");
        e["ip_address"] = ip;
        e["domains"] = Json::array();
        e["country"] = "";
        e["country_code"] = "";
        e["protocols"] = Json::array({"tcp"});
        e["sources"] = Json::array({"Network Traffic"});
        ips.push_back(std::move(e));
        break;
      }
      case 5:
      case 6:
      case 7: {
        const std::string host =
            k % 10 == 5 ? FamilyDomain(f, r >> 5) : UniqueDomain(r, g.index, k);
        std::string path = fmt::format(fmt::runtime(kPaths[r % kPaths.size()]),
                                       fmt::format("{:x}", (r >> 20) & 0xfffff));
        if (k % 10 == 7) path += fmt::format("?id={}&ref=o'brien", g.index);
        const std::string url =
            fmt::format("{}://{}/{}", (r >> 4) % 2 ? "https" : "http", host, path);
        Json e = Common(sample, k, verdict, "url", "url_artifact");
        e["url"] = url;
        e["original_urls"] = Json::array({url});
        e["categories"] = Json::array();
        e["ip_addresses"] = Json::array({Ipv4(r >> 7)});
        e["methods"] = Json::array({"GET"});
        e["sources"] = Json::array({"Network Traffic"});
        urls.push_back(std::move(e));
        break;
      }
      default: {  // 8: a file the sample dropped
        const std::string content = fmt::format("dropped {} {} {}", g.seed, g.index, k);
        const std::string sha256 = Sha256Hex(content);
        const std::string name =
            fmt::format(fmt::runtime(kFileNames[r % kFileNames.size()]), sha256.substr(0, 6));
        Json e = Common(sample, k, verdict, "file", "file_artifact");
        e["categories"] = Json::array({"Dropped File"});
        e["filename"] = name;
        e["filenames"] = Json::array({name});
        e["file_size"] = 4096 + static_cast<int64_t>(r % 900'000);
        e["hashes"] = Json::array({{{"imp_hash", nullptr},
                                    {"md5_hash", Md5Hex(content)},
                                    {"sha1_hash", Sha1Hex(content)},
                                    {"sha256_hash", sha256},
                                    {"ssdeep_hash", SsdeepLike(sha256, 4096)}}});
        e["mime_type"] = "application/octet-stream";
        files.push_back(std::move(e));
      }
    }
  }
  return {{"domains", std::move(domains)},
          {"ips", std::move(ips)},
          {"urls", std::move(urls)},
          {"files", std::move(files)}};
}

}  // namespace vc::emu::vmray
