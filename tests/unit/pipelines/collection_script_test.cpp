// The Live Response collection script cannot run here (no Windows, no Defender), so its contract
// is checked statically and the connector's side of it (request encoding, transcript parsing,
// quarantine file decryption) is tested directly. The MDE emulator models the script's effect.
#include "pipelines/defender_alerts/collection_script.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "core/base64.hpp"
#include "core/json.hpp"
#include "pipelines/defender_alerts/quarantine_file.hpp"

namespace vc::defender {
namespace {

const std::string& Script() {
  static const std::string text(CollectionScript());
  return text;
}

TEST(CollectionScript, IsCompiledInFromTheScriptsFolder) {
  EXPECT_NE(Script().find("vmray-connector: hand one file"), std::string::npos);
  EXPECT_GT(Script().size(), 2000u);
}

TEST(CollectionScript, TakesExactlyOneStringArgumentAndChecksItIsBase64BeforeDecoding) {
  const std::string& s = Script();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s, m, std::regex(R"(param\(([\s\S]*?)\)\s*\n\s*Set-StrictMode)")));
  const std::string params = m[1];
  std::regex variable(R"(\$(?!true\b|false\b)[A-Za-z_]\w*)");
  EXPECT_EQ(std::distance(std::sregex_iterator(params.begin(), params.end(), variable),
                          std::sregex_iterator()),
            1)
      << "one parameter only: " << params;
  EXPECT_NE(params.find("[string]$Request"), std::string::npos);
  const size_t check = s.find("-cnotmatch '^[A-Za-z0-9+/]+={0,2}$'");
  const size_t decode = s.find("FromBase64String($Request)");
  ASSERT_NE(check, std::string::npos);
  ASSERT_NE(decode, std::string::npos);
  EXPECT_LT(check, decode) << "the argument is checked before it is decoded";
}

TEST(CollectionScript, NeverEvaluatesTextAsCode) {
  for (const char* forbidden : {"Invoke-Expression", "iex ", "-EncodedCommand", "-Command",
                                "[ScriptBlock]::Create", "Start-Process", "cmd.exe", "cmd /c"}) {
    EXPECT_EQ(Script().find(forbidden), std::string::npos) << forbidden;
  }
  // The threat name reaches MpCmdRun as one argument value, never inside a command string.
  EXPECT_NE(Script().find("& $mpcmdrun -Restore -Name $threat -All -Path $dir"), std::string::npos);
}

TEST(CollectionScript, NeverWritesTheUploadUrlOrTheThreatName) {
  const std::string& s = Script();
  // Output goes through Write-Outcome only, which takes fixed texts, a hash and a size.
  for (const char* writer : {"Write-Host", "Write-Output", "Write-Verbose", "Write-Error",
                             "Write-Warning", "Write-Information", "Out-File", "Add-Content"}) {
    EXPECT_EQ(s.find(writer), std::string::npos) << writer;
  }
  std::regex outcome_call(R"(Write-Outcome\s+([^\n]*))");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), outcome_call);
       it != std::sregex_iterator(); ++it) {
    const std::string args = (*it)[1];
    EXPECT_EQ(args.find("$url"), std::string::npos) << args;
    EXPECT_EQ(args.find("$Url"), std::string::npos) << args;
    EXPECT_EQ(args.find("$threat"), std::string::npos) << args;
    EXPECT_EQ(args.find("$_"), std::string::npos) << "exception texts can carry the URL: " << args;
  }
  // Upload failures report the status code, never the exception message.
  EXPECT_EQ(s.find("Exception.Message"), std::string::npos);
}

TEST(CollectionScript, TheExclusionIsRemovedInAFinallyBlockAfterItIsAdded) {
  const std::string& s = Script();
  // The restore block: from creating the private folder to its clean-up.
  const size_t try_pos = s.find("\ntry {", s.find("$result = $null"));
  const size_t add = s.find("Add-MpPreference -ExclusionPath $dir");
  const size_t finally_pos = s.find("} finally {");
  const size_t remove = s.find("Remove-MpPreference -ExclusionPath $dir");
  ASSERT_NE(try_pos, std::string::npos);
  ASSERT_NE(add, std::string::npos);
  ASSERT_NE(finally_pos, std::string::npos);
  ASSERT_NE(remove, std::string::npos);
  EXPECT_LT(try_pos, add) << "the exclusion is added inside the try";
  EXPECT_LT(add, finally_pos);
  EXPECT_LT(finally_pos, remove) << "and removed in its finally, on every path";
  EXPECT_NE(s.find("Remove-Item -LiteralPath $dir -Recurse -Force", finally_pos),
            std::string::npos);
  // No early exit between adding and removing (exit would skip nothing, but keep it obvious).
  const std::string guarded = s.substr(try_pos, finally_pos - try_pos);
  EXPECT_EQ(guarded.find("Write-Outcome"), std::string::npos);
  EXPECT_EQ(guarded.find("exit"), std::string::npos);
}

TEST(CollectionScript, EveryOutcomeTheParserKnowsIsOneTheScriptWrites) {
  for (const char* outcome : {"collected", "collected_encrypted", "not_in_quarantine",
                              "hash_mismatch", "too_large", "upload_failed", "exclusion_blocked",
                              "restore_failed", "defender_missing", "bad_request"}) {
    EXPECT_NE(Script().find(std::string("'") + outcome + "'"), std::string::npos) << outcome;
  }
}

TEST(CollectionArgs, AreBase64WhateverTheThreatNameHolds) {
  CollectionRequest r;
  r.threat = "Trojan:Win32/Wacatac.B!ml\" ; Remove-Item C:\\ -Recurse; $(calc) `n 'x' — Ünïcode";
  r.sha256 = {std::string(64, 'a')};
  r.upload_url = "https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sig=DO-NOT-LOG";
  r.max_bytes = 1 << 20;
  r.request_id = "job-42";
  const std::string args = EncodeCollectionArgs(r);
  EXPECT_TRUE(std::regex_match(args, std::regex("^[A-Za-z0-9+/]+={0,2}$"))) << args;
  auto json = Base64Decode(args);
  ASSERT_TRUE(json);
  Json j = Json::parse(*json);
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["threat"], r.threat) << "the name arrives intact, as data";
  EXPECT_EQ(j["sha256"][0], r.sha256[0]);
  EXPECT_EQ(j["max_bytes"], r.max_bytes);
  for (unsigned char c : *json) EXPECT_LT(c, 0x80) << "ASCII JSON on the wire";
}

std::string Transcript(const std::string& output, int exit_code = 0) {
  return Json{{"script_name", "vmray-connector-collect.ps1"},
              {"exit_code", exit_code},
              {"script_output", output},
              {"script_errors", ""}}
      .dump();
}

TEST(CollectionTranscript, ReadsTheLastOutcomeLineAmongNoise) {
  auto o = ParseCollectionTranscript(Transcript(
      "Some warning from the device\r\n{\"not\":\"ours\"}\r\n"
      R"({"v":1,"request_id":"job-42","outcome":"collected","detail":"restored and uploaded the file","sha256":"ab","size":17})"
      "\r\n"));
  ASSERT_TRUE(o) << o.error().ToString();
  EXPECT_EQ(o->outcome, "collected");
  EXPECT_TRUE(o->Collected());
  EXPECT_EQ(o->request_id, "job-42");
  EXPECT_EQ(o->size, 17);
}

TEST(CollectionTranscript, MissingTruncatedOrForeignOutputIsAProtocolError) {
  for (const std::string& bad :
       {Transcript("nothing useful"), Transcript(R"({"v":1,"outcome":"collec)"),
        Transcript(R"({"v":1,"outcome":"exfiltrated"})"), Transcript(R"({"v":1,"outcome":7})"),
        std::string(R"({"script_output": "{\"v\":1,)"), std::string("not json at all")}) {
    auto o = ParseCollectionTranscript(bad);
    ASSERT_FALSE(o) << bad;
    EXPECT_EQ(o.error().code, ErrorCode::kProtocol) << o.error().ToString();
  }
}

TEST(QuarantineFile, RoundTripsAndChecksItsSizes) {
  const std::string original = std::string("MZ quarantined\0payload", 22) + std::string(5000, 'x');
  const std::string resource = EncryptQuarantineResource(original);
  ASSERT_FALSE(resource.empty());
  EXPECT_EQ(resource.find("MZ quarantined"), std::string::npos) << "encrypted at rest";
  auto back = DecryptQuarantineResource(resource, 1 << 20);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, original);

  auto too_large = DecryptQuarantineResource(resource, 100);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, ErrorCode::kInvalidArgument);

  auto truncated = DecryptQuarantineResource(resource.substr(0, resource.size() / 2), 1 << 20);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, ErrorCode::kProtocol);
  EXPECT_FALSE(DecryptQuarantineResource("short", 1 << 20));
  EXPECT_FALSE(DecryptQuarantineResource(std::string(4096, '\x5a'), 1 << 20))
      << "random bytes are not a quarantine file";
}

TEST(QuarantineFile, UsesDefendersKeyStream) {
  // The first key-stream bytes of RC4 with Defender's key, computed independently (a plain RC4
  // in Python over the published key): a header of zeros encrypts to exactly them.
  const std::string resource = EncryptQuarantineResource("", 0);
  ASSERT_GE(resource.size(), 8u);
  // Bytes 0..7 of the plain header are zero when sd_len is 0 (the length field sits at 0x08).
  static constexpr unsigned char kStream[8] = {0x08, 0xad, 0x00, 0x98, 0x93, 0xfd, 0xde, 0x68};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(static_cast<unsigned char>(resource[i]), kStream[i]) << "byte " << i;
  }
}

}  // namespace
}  // namespace vc::defender
