// The Graph mailbox client (clients/graph/mailbox.hpp) built as the daemon builds it (Entra
// token for https://graph.microsoft.com, retry policy) against the Graph and Entra emulators:
// paging over many mails with the filter Graph accepts, the time filter, a foreign nextLink
// refused before anything is sent there, 50 attachments, a 100 MB attachment streamed to a file
// in small pieces (and refused past a size cap, leaving no file), 429 waited out, 403 without
// Mail.Read naming the permission, and 404 for an unknown mailbox.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>

#include "app/version.hpp"
#include "auth/entra_token_cache.hpp"
#include "clients/graph/mailbox.hpp"
#include "contract/contract_support.hpp"
#include "core/time.hpp"

namespace vc::contract {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kGraph = "https://graph.microsoft.com";
constexpr const char* kBox = "soc@contoso.com";

class GraphMailboxContractTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    StartEmulators();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("vc-mailbox-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    client_.reset();
    tokens_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    ContractTest::TearDown();
  }
  // The client, built on first use so a test can change the granted roles before the first
  // token is fetched.
  graph::MailboxClient& client(int page_size = 50) {
    if (!client_) {
      const auto& e = emulators().entra().options();
      auth::EntraOptions entra;
      entra.authority_host = emulators().entra().BaseUrl();
      entra.tenant_id = e.tenant_id;
      entra.client_id = e.client_id;
      entra.client_secret = Secret<>(e.client_secret);
      tokens_ = std::make_shared<auth::EntraTokenCache>(
          entra, MakePipeline({}, kUserAgent, nullptr), clock_);
      auto credential = std::make_shared<auth::EntraCredential>(tokens_, kGraph);
      graph::MailboxOptions o;
      o.base_url = graph().BaseUrl();
      o.page_size = page_size;
      client_ = std::make_unique<graph::MailboxClient>(o, MakePipeline({}, kUserAgent, credential));
    }
    return *client_;
  }
  emu::GraphEmulator& graph() { return emulators().graph(); }
  // One mail "m1" with these attachments.
  void SeedOne(const Json& attachments) {
    Json message{{"id", "m1"}, {"attachments", attachments}};
    SeedBox(Json::array({message}));
  }
  static Json Generated(const std::string& id, const std::string& name, int64_t size,
                        const std::string& pattern = "VMRay-0123456789") {
    return Json{{"id", id}, {"name", name}, {"generate", {{"size", size}, {"pattern", pattern}}}};
  }
  void SeedBox(const Json& messages) {
    Seed({{"graph", {{"mailboxes", {{{"address", kBox}, {"messages", messages}}}}}}});
  }
  // `count` mails one minute apart from 2026-03-01T10:00:00Z, each with one attachment.
  void SeedMinutes(int count) {
    Json messages = Json::array();
    for (int i = 0; i < count; ++i) {
      messages.push_back(
          {{"id", fmt::format("m{:03d}", i)},
           {"subject", "mail " + std::to_string(i)},
           {"from", {{"name", "Mallory"}, {"address", "mallory@evil.example"}}},
           {"toRecipients", {"soc@contoso.com", "ciso@contoso.com"}},
           {"body", {{"contentType", "html"}, {"content", "<p>password: infected</p>"}}},
           {"receivedDateTime", FormatIso8601(Start() + std::chrono::minutes(i))},
           {"attachments", {{{"name", "a.exe"}, {"content", "MZ"}}}}});
    }
    // A mail without attachments is never listed.
    messages.push_back({{"id", "plain"}, {"receivedDateTime", FormatIso8601(Start())}});
    SeedBox(messages);
  }
  static TimePoint Start() { return *ParseIso8601("2026-03-01T10:00:00Z"); }
  // Every page from the first, following nextLinks.
  std::vector<graph::MailboxMessage> ListAll(TimePoint since, int* pages = nullptr) {
    std::vector<graph::MailboxMessage> all;
    auto page = client().ListMessagesSince(kBox, "inbox", since);
    int n = 0;
    while (true) {
      EXPECT_TRUE(page) << page.error().ToString();
      if (!page) break;
      ++n;
      for (auto& m : page->messages) all.push_back(m);
      if (page->next_link.empty()) break;
      page = client().NextPage(page->next_link);
    }
    if (pages) *pages = n;
    return all;
  }

  std::filesystem::path dir_;
  std::shared_ptr<auth::EntraTokenCache> tokens_;
  std::unique_ptr<graph::MailboxClient> client_;
};

TEST_F(GraphMailboxContractTest, PagesOverManyMailsOldestFirstWithGraphsFilter) {
  SeedMinutes(120);
  client(50);
  int pages = 0;
  const auto all = ListAll(Start(), &pages);
  ASSERT_EQ(all.size(), 120u);
  EXPECT_EQ(pages, 3);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].id, fmt::format("m{:03d}", i));
  EXPECT_EQ(all[7].subject, "mail 7");
  EXPECT_EQ(all[7].from.address, "mallory@evil.example");
  ASSERT_EQ(all[7].to.size(), 2u);
  EXPECT_EQ(all[7].to[1].address, "ciso@contoso.com");
  EXPECT_EQ(all[7].body_type, "html");
  EXPECT_EQ(all[7].body, "<p>password: infected</p>");
  EXPECT_TRUE(all[7].has_attachments);
  EXPECT_EQ(all[7].received, Start() + std::chrono::minutes(7));
  const auto calls = CallsTo(graph(), "GET", "/v1\\.0/users/.*/mailFolders/inbox/messages");
  ASSERT_EQ(calls.size(), 3u);
  const Pairs q = DecodePairs(calls[0].query);
  EXPECT_EQ(OnlyValue(q, "$filter"),
            "receivedDateTime ge 2026-03-01T10:00:00Z and hasAttachments eq true");
  EXPECT_EQ(OnlyValue(q, "$orderby"), "receivedDateTime asc");
  EXPECT_EQ(OnlyValue(q, "$top"), "50");
  EXPECT_TRUE(OnlyValue(q, "$select"));
  EXPECT_EQ(calls[0].auth, "Bearer");
  EXPECT_EQ(emulators().entra().StateJson()["tokens_issued"][kGraph], 1);
}

TEST_F(GraphMailboxContractTest, OnlyMailsFromTheCursorOnAreListed) {
  SeedMinutes(10);
  const auto all = ListAll(Start() + std::chrono::minutes(6));
  std::vector<std::string> ids;
  for (const auto& m : all) ids.push_back(m.id);
  EXPECT_THAT(ids, ElementsAre("m006", "m007", "m008", "m009"));
}

TEST_F(GraphMailboxContractTest, NextLinkToAnotherHostIsRefused) {
  SeedMinutes(1);
  const std::vector<std::string> foreign_links = {
      "https://evil.example/v1.0/users/x/messages?$skip=10",
      "http://127.0.0.1:1/v1.0/users/x/messages", graph().BaseUrl() + "@evil.example/x",
      "not a url"};
  for (const std::string& foreign : foreign_links) {
    emu::FaultRule rule;
    rule.method = "GET";
    rule.path_regex = "/v1\\.0/users/.*/messages";
    rule.status = 200;
    rule.body = Json{{"value", Json::array()}, {"@odata.nextLink", foreign}}.dump();
    graph().AddFault(rule);
    auto first = client().ListMessagesSince(kBox, "inbox", Start());
    ASSERT_TRUE(first) << first.error().ToString();
    ASSERT_EQ(first->next_link, foreign);
    auto next = client().NextPage(first->next_link);
    ASSERT_FALSE(next) << foreign;
    EXPECT_EQ(Seen(next.error()).code, ErrorCode::kProtocol);
    EXPECT_THAT(next.error().message, HasSubstr("nextLink"));
    EXPECT_EQ(next.error().service, "graph");
  }
  // Only the four first pages were asked for.
  EXPECT_EQ(CallsTo(graph(), "GET", ".*").size(), 4u);
}

TEST_F(GraphMailboxContractTest, FiftyAttachmentsAreListedAndEachDownloaded) {
  Json atts = Json::array();
  for (int i = 0; i < 48; ++i) {
    atts.push_back({{"id", fmt::format("a{:02d}", i)},
                    {"name", fmt::format("doc{}.docm", i)},
                    {"contentType", "application/vnd.ms-word.document.macroEnabled.12"},
                    {"content", fmt::format("PK-document-{}", i)}});
  }
  atts.push_back(
      {{"id", "item"}, {"kind", "item"}, {"name", "Fwd: inner"}, {"item", {{"subject", "inner"}}}});
  atts.push_back({{"id", "ref"}, {"kind", "reference"}, {"name", "OneDrive link"}});
  SeedBox({{{"id", "m1"}, {"attachments", atts}}});
  auto list = client().ListAttachments(kBox, "m1");
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 50u);
  EXPECT_EQ((*list)[3].name, "doc3.docm");
  EXPECT_EQ((*list)[3].size, static_cast<int64_t>(std::string("PK-document-3").size()));
  EXPECT_EQ((*list)[3].kind, graph::AttachmentKind::kFile);
  EXPECT_EQ((*list)[48].kind, graph::AttachmentKind::kItem);
  EXPECT_EQ((*list)[49].kind, graph::AttachmentKind::kReference);
  // One metadata call without the bytes.
  const auto calls = CallsTo(graph(), "GET", ".*/messages/m1/attachments");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(OnlyValue(DecodePairs(calls[0].query), "$select"), "id,name,contentType,size,isInline");
  for (const auto& a : *list) {
    if (a.kind != graph::AttachmentKind::kFile) continue;
    auto bytes = client().DownloadToBuffer(kBox, "m1", a.id, 1024);
    ASSERT_TRUE(bytes) << bytes.error().ToString();
    EXPECT_EQ(*bytes, fmt::format("PK-document-{}", std::stoi(a.id.substr(1))));
  }
  EXPECT_EQ(CallsTo(graph(), "GET", ".*/attachments/a[0-9]+/\\$value").size(), 48u);
}

TEST_F(GraphMailboxContractTest, HundredMegabyteAttachmentIsStreamedToAFile) {
  const int64_t size = 100LL * 1024 * 1024;
  const std::string pattern = "VMRay-0123456789";
  SeedOne(Json::array({Generated("huge", "huge.iso", size, pattern)}));
  const auto path = dir_ / "huge.iso";
  auto got = client().DownloadToFile(kBox, "m1", "huge", path, 200LL * 1024 * 1024);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->bytes, size);
  EXPECT_EQ(static_cast<int64_t>(std::filesystem::file_size(path)), size);
  // The client never held more than one transfer piece: nothing near the file's size.
  EXPECT_GT(got->largest_piece, 0u);
  EXPECT_LE(got->largest_piece, 1024u * 1024u);
  // The file holds the emulator's bytes, and the digest is theirs.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(1 << 20);
  int64_t offset = 0;
  bool same = true;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    for (size_t i = 0; i < n && same; ++i) same = buf[i] == pattern[(offset + i) % pattern.size()];
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    offset += static_cast<int64_t>(n);
  }
  EXPECT_TRUE(same);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  EXPECT_EQ(got->sha256, hex);
}

TEST_F(GraphMailboxContractTest, AttachmentOverTheCapIsRefusedAndLeavesNoFile) {
  SeedOne(Json::array({Generated("big", "big.bin", 8 * 1024 * 1024)}));
  const auto path = dir_ / "big.bin";
  auto got = client().DownloadToFile(kBox, "m1", "big", path, 1024 * 1024);
  ASSERT_FALSE(got);
  EXPECT_EQ(Seen(got.error()).code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.error().message, HasSubstr("1048576 byte limit"));
  EXPECT_FALSE(std::filesystem::exists(path));
  auto buffered = client().DownloadToBuffer(kBox, "m1", "big", 4096);
  ASSERT_FALSE(buffered);
  EXPECT_EQ(Seen(buffered.error()).code, ErrorCode::kInvalidArgument);
  // Refused, not retried: one download request each.
  EXPECT_EQ(CallsTo(graph(), "GET", ".*/\\$value").size(), 2u);
}

TEST_F(GraphMailboxContractTest, ThrottledThenSucceeds) {
  SeedMinutes(2);
  emu::FaultRule rule;
  rule.method = "GET";
  rule.path_regex = "/v1\\.0/users/.*/messages";
  rule.status = 429;
  rule.retry_after = "3";
  graph().AddFault(rule);
  auto page = client().ListMessagesSince(kBox, "inbox", Start());
  ASSERT_TRUE(page) << page.error().ToString();
  EXPECT_EQ(page->messages.size(), 2u);
  EXPECT_THAT(StatusesOf(CallsTo(graph(), "GET", ".*/messages")), ElementsAre(429, 200));
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(3000)));
}

TEST_F(GraphMailboxContractTest, DownloadThrottledThenStreamsOnce) {
  SeedOne(Json::array({Json{{"id", "a"}, {"name", "a.bin"}, {"content", "MZ-bytes"}}}));
  emu::FaultRule rule;
  rule.method = "GET";
  rule.path_regex = ".*/\\$value";
  rule.status = 429;
  rule.retry_after = "2";
  graph().AddFault(rule);
  auto bytes = client().DownloadToBuffer(kBox, "m1", "a", 1024);
  ASSERT_TRUE(bytes) << bytes.error().ToString();
  // The 429's error body did not end up in the attachment.
  EXPECT_EQ(*bytes, "MZ-bytes");
  EXPECT_THAT(clock_.Sleeps(), ElementsAre(Millis(2000)));
}

TEST_F(GraphMailboxContractTest, WithoutMailReadTheErrorNamesThePermission) {
  SeedMinutes(1);
  Seed({{"entra", {{"graph_granted_roles", {"Mail.Send"}}}}});
  auto page = client().ListMessagesSince(kBox, "inbox", Start());
  ASSERT_FALSE(page);
  EXPECT_EQ(Seen(page.error()).code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(page.error().http_status, 403);
  EXPECT_EQ(page.error().service_code, "ErrorAccessDenied");
  EXPECT_THAT(page.error().message, HasSubstr("Mail.Read"));
}

TEST_F(GraphMailboxContractTest, UnknownMailboxIsNotFound) {
  SeedMinutes(1);
  auto page = client().ListMessagesSince("nobody@contoso.com", "inbox", Start());
  ASSERT_FALSE(page);
  EXPECT_EQ(Seen(page.error()).code, ErrorCode::kNotFound);
  EXPECT_EQ(page.error().service_code, "ErrorInvalidUser");
  auto atts = client().ListAttachments(kBox, "no-such-message");
  ASSERT_FALSE(atts);
  EXPECT_EQ(Seen(atts.error()).code, ErrorCode::kNotFound);
  // Exactly one request for the unknown mailbox (a 404 is not retried).
  EXPECT_EQ(CallsTo(graph(), "GET", "/v1\\.0/users/nobody@contoso\\.com/.*").size(), 1u);
}

}  // namespace
}  // namespace vc::contract
