// The status page in a real browser: the real `vmray-connector run` and `vmray-emulators`, alerts
// that settle with verdicts (one whose title and file name carry HTML), then headless Chromium
// loads /status. The rendered DOM must show the jobs and verdicts, and the HTML values as text
// with no element injected. It also takes the screenshot in docs/ (VC_UPDATE_SCREENSHOT=1).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "core/hash.hpp"
#include "e2e/e2e_support.hpp"
#include "e2e/ops_e2e_support.hpp"
#include "support/harness.hpp"

namespace vc::e2e {
namespace {

using testing::MachineJson;

std::string FindChromium() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

// Runs Chromium headless with `args` after the common flags; its stdout goes to `out_path`.
int RunChromium(const std::string& chromium, const std::string& profile, const std::string& args,
                const std::string& out_path) {
  const std::string command =
      "timeout 90 " + chromium +
      " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --hide-scrollbars --user-data-dir=" +
      profile + " " + args + " >" + out_path + " 2>" + out_path + ".stderr";
  return std::system(command.c_str());
}

Json Alert(const std::string& id, const std::string& title, const std::string& machine,
           const std::string& sha256, const std::string& file_name) {
  Json alert = testing::AlertJson(id, machine, sha256, file_name);
  alert["title"] = title;
  return alert;
}

TEST(StatusPageInChromium, RendersJobsVerdictsAndHtmlValuesAsText) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs the Debian package)";
  }
  app::EmulatorProcess emulators;
  ASSERT_TRUE(emulators.Start(EmulatorsBinary()));
  const std::string dir = TempDir("vc-browser");

  const std::string known_bad = "46d2a7a499be0dbc6f46617afd57b9c2b785d597b7fd2c8b5902e5c165226e29";
  const std::string known_clean = Sha256Hex("a clean spreadsheet seen before");
  const std::string evil = std::string("MZ browser ") + testing::kEicar;
  const std::string m1 = "1111111111111111111111111111111111111111";
  const std::string m2 = "2222222222222222222222222222222222222222";
  const std::string html_file = "<img src=x onerror=alert(1)>.exe";
  Json alerts = Json::array(
      {Alert("da-clean-2", "Unusual spreadsheet opened", m1, known_clean, "budget.xlsx"),
       Alert("da-collect-3", "Suspicious file downloaded", m1, Sha256Hex(evil), "invoice.exe"),
       Alert("da-offline-4", "Dropper on an offline laptop", m2, Sha256Hex("not collected yet"),
             "dropper.exe"),
       Alert("da-nofile-5", "Suspicious sign-in pattern", m1, "", ""),
       Alert("da-missing-6", "File deleted before collection", m1, Sha256Hex("deleted"),
             "gone.exe"),
       // Last, so it is the newest job and the first row of the screenshot.
       Alert("da-html-1", "<b>bold</b> & \"quoted\" title", m1, known_bad, html_file)});
  Json machines =
      Json::array({MachineJson(m1, {{"C:\\Users\\alice\\Downloads\\invoice.exe", evil}}),
                   MachineJson(m2, {}, /*offline=*/true)});
  ASSERT_TRUE(app::PostJson(emulators.Url("mde") + "/_emulator/state",
                            {{"alerts", alerts}, {"machines", machines}}));
  ASSERT_TRUE(
      app::PostJson(emulators.Url("vmray") + "/_emulator/state",
                    {{"samples", Json::array({{{"sha256", known_bad}, {"verdict", "malicious"}},
                                              {{"sha256", known_clean}, {"verdict", "clean"}}})}}));

  ConnectorProcess connector;
  ASSERT_TRUE(connector.Start(ConnectorEnv(emulators, dir)));
  const int port = WaitForOpsPort(dir + "/connector.log", std::chrono::seconds(20));
  ASSERT_GT(port, 0) << ReadFile(dir + "/connector.log");
  WaitFor(
      emulators,
      [](const Json& s) {
        auto c = Comments(s);
        return c["da-html-1"].size() == 1 && c["da-clean-2"].size() == 1 &&
               c["da-collect-3"].size() == 1;
      },
      std::chrono::seconds(60));
  // The comment is delivered just before the job's final state is written.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto count = [&](const char* state) {
    return MetricValue(HttpGet(port, "/metrics").body,
                       std::string(R"(vc_jobs{kind="defender_evidence",state=")") + state + "\"}");
  };
  while (std::chrono::steady_clock::now() < end && (count("done") < 3 || count("failed") < 1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/status";
  const std::string dom_path = dir + "/dom.html";
  ASSERT_EQ(RunChromium(chromium, dir + "/profile", "--dump-dom " + url, dom_path), 0)
      << ReadFile(dom_path + ".stderr");
  const std::string dom = ReadFile(dom_path);
  ASSERT_NE(dom.find("vmray-connector status"), std::string::npos) << dom;

  // Every job is a row; the settled ones show their verdicts.
  std::regex row_re("<tr class=\"job\" data-job=\"\\d+\">");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(dom.begin(), dom.end(), row_re), std::sregex_iterator()),
      6);
  for (const char* id :
       {"da-html-1", "da-clean-2", "da-collect-3", "da-offline-4", "da-nofile-5", "da-missing-6"})
    EXPECT_NE(dom.find(std::string(">") + id + "<"), std::string::npos) << id;
  EXPECT_NE(dom.find("class=\"verdict bad\">malicious<"), std::string::npos);
  EXPECT_NE(dom.find("class=\"verdict good\">clean<"), std::string::npos);
  EXPECT_NE(dom.find(">invoice.exe<"), std::string::npos);
  EXPECT_NE(dom.find(">skipped<"), std::string::npos);

  // The HTML values are text in the DOM, and no element came from them.
  EXPECT_NE(dom.find("&lt;img src=x onerror=alert(1)&gt;.exe"), std::string::npos);
  EXPECT_NE(dom.find("&lt;b&gt;bold&lt;/b&gt; &amp; \"quoted\" title"), std::string::npos);
  EXPECT_EQ(dom.find("<img"), std::string::npos) << "an injected element";
  EXPECT_EQ(dom.find("<b>bold"), std::string::npos) << "an injected element";
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_EQ(dom.find("DO-NOT-LOG"), std::string::npos);

  // The file that was gone from the device is a recent error, with what to do.
  const size_t errors = dom.find("id=\"errors\"");
  ASSERT_NE(errors, std::string::npos);
  const std::string error_section = dom.substr(errors, dom.find("</section>", errors) - errors);
  EXPECT_NE(error_section.find(">da-missing-6<"), std::string::npos) << error_section;
  EXPECT_NE(error_section.find(">failed<"), std::string::npos) << error_section;

  // Health and queue sections are there.
  EXPECT_NE(dom.find("poller:defender_evidence"), std::string::npos);
  EXPECT_NE(dom.find("id=\"queue\""), std::string::npos);
  EXPECT_NE(dom.find("id=\"limiters\""), std::string::npos);

  // The screenshot: into docs/ when asked, else a temporary file; always a real PNG.
  const bool update = std::getenv("VC_UPDATE_SCREENSHOT") != nullptr &&
                      std::string(std::getenv("VC_UPDATE_SCREENSHOT")) == "1";
  const std::string png =
      update ? std::string(VC_SOURCE_DIR) + "/docs/status-page.png" : dir + "/status-page.png";
  ASSERT_EQ(
      RunChromium(chromium, dir + "/profile",
                  "--window-size=1280,900 --screenshot=" + png + " " + url, dir + "/shot.out"),
      0)
      << ReadFile(dir + "/shot.out.stderr");
  const std::string image = ReadFile(png);
  ASSERT_GT(image.size(), 10'000u) << png;
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  connector.Kill(SIGTERM);
  const int status = connector.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace vc::e2e
