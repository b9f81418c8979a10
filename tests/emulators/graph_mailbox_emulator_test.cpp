// The Graph mailbox emulator (emulators/graph_mailbox.cpp) against a plain HTTP client: the
// message list with $filter on receivedDateTime and hasAttachments, $orderby, $top, $select and
// @odata.nextLink paging; Graph's InefficientFilter rule; attachments listed without the bytes
// of large ones; $value streamed for a generated 100 MB attachment, MIME for an item attachment
// and 405 for a reference attachment; 404 for unknown mailboxes and messages; 403 without
// Mail.Read; injected 429 with Retry-After; seed errors.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "emulator_set.hpp"
#include "http/curl_transport.hpp"

namespace vc::emu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kBox = "soc@contoso.com";

class GraphMailboxEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = std::make_unique<EmulatorSet>(EmulatorSetOptions{}, clock_);
    set_->Start();
    graph_ = std::make_unique<httplib::Client>(set_->graph().BaseUrl());
    token_ = Token("https://graph.microsoft.com/.default");
  }
  void TearDown() override {
    if (check_assertions_) {
      EXPECT_THAT(set_->AssertionFailures(), IsEmpty());
    }
  }
  std::string Token(const std::string& scope) {
    httplib::Client login(set_->entra().BaseUrl());
    const auto& o = set_->entra().options();
    auto r = login.Post("/" + o.tenant_id + "/oauth2/v2.0/token",
                        httplib::Params{{"grant_type", "client_credentials"},
                                        {"client_id", o.client_id},
                                        {"client_secret", o.client_secret},
                                        {"scope", scope}});
    EXPECT_TRUE(r && r->status == 200);
    return r ? Json::parse(r->body).value("access_token", "") : "";
  }
  httplib::Result Get(const std::string& path, const std::string& token = "") {
    return graph_->Get(path, {{"Authorization", "Bearer " + (token.empty() ? token_ : token)}});
  }
  static std::string Q(const std::vector<std::pair<std::string, std::string>>& params) {
    return "?" + http::EncodeQuery(params);
  }
  void SeedBox(const Json& messages) {
    auto problem =
        set_->Seed({{"graph", {{"mailboxes", {{{"address", kBox}, {"messages", messages}}}}}}});
    ASSERT_FALSE(problem) << *problem;
  }
  // Mails received at 10:00:00, 10:01:00, ... with one small file attachment each (every third
  // without any attachment).
  void SeedMinutes(int count) {
    Json messages = Json::array();
    for (int i = 0; i < count; ++i) {
      Json m{{"id", "m" + std::to_string(i)},
             {"subject", "mail " + std::to_string(i)},
             {"from", "attacker@evil.example"},
             {"receivedDateTime", fmt::format("2026-03-01T10:{:02d}:00Z", i)}};
      if (i % 3 != 2) {
        m["attachments"] = {
            {{"name", "f" + std::to_string(i) + ".exe"}, {"content", "MZ" + std::to_string(i)}}};
      }
      messages.push_back(m);
    }
    SeedBox(messages);
  }
  static std::vector<std::string> Ids(const Json& page) {
    std::vector<std::string> ids;
    for (const auto& m : page["value"]) ids.push_back(m["id"]);
    return ids;
  }

  ManualClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> graph_;
  std::string token_;
  bool check_assertions_ = true;
};

TEST_F(GraphMailboxEmulatorTest, FilterOrderTopAndNextLinkWalkEveryMatchingMailOnce) {
  SeedMinutes(12);
  auto r =
      Get(std::string("/v1.0/users/") + kBox + "/mailFolders/inbox/messages" +
          Q({{"$filter", "receivedDateTime ge 2026-03-01T10:03:00Z and hasAttachments eq true"},
             {"$orderby", "receivedDateTime asc"},
             {"$top", "3"},
             {"$select", "id,subject,receivedDateTime"}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json page = Json::parse(r->body);
  EXPECT_THAT(Ids(page), ElementsAre("m3", "m4", "m6"));
  // $select: only the asked properties (plus id and @odata.etag, which Graph always adds).
  EXPECT_EQ(page["value"][0]["subject"], "mail 3");
  EXPECT_FALSE(page["value"][0].contains("body"));
  EXPECT_TRUE(page["value"][0].contains("@odata.etag"));
  std::vector<std::string> all = Ids(page);
  int pages = 1;
  while (page.contains("@odata.nextLink")) {
    const std::string link = page["@odata.nextLink"];
    ASSERT_EQ(link.rfind(set_->graph().BaseUrl(), 0), 0u) << link;
    r = Get(link.substr(set_->graph().BaseUrl().size()));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    page = Json::parse(r->body);
    for (auto& id : Ids(page)) all.push_back(id);
    ++pages;
  }
  EXPECT_THAT(all, ElementsAre("m3", "m4", "m6", "m7", "m9", "m10"));
  EXPECT_EQ(pages, 2);
}

TEST_F(GraphMailboxEmulatorTest, DefaultOrderIsNewestFirstAndTopIsChecked) {
  SeedMinutes(3);
  auto r = Get(std::string("/v1.0/users/") + kBox + "/messages");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_THAT(Ids(Json::parse(r->body)), ElementsAre("m2", "m1", "m0"));
  EXPECT_EQ(Json::parse(r->body)["value"][2]["hasAttachments"], true);
  EXPECT_EQ(Json::parse(r->body)["value"][0]["hasAttachments"], false);
  r = Get(std::string("/v1.0/users/") + kBox + "/messages" + Q({{"$top", "1001"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(GraphMailboxEmulatorTest, SortedPropertyMustComeFirstInTheFilter) {
  SeedMinutes(2);
  auto r =
      Get(std::string("/v1.0/users/") + kBox + "/messages" +
          Q({{"$filter", "hasAttachments eq true and receivedDateTime ge 2026-03-01T00:00:00Z"},
             {"$orderby", "receivedDateTime asc"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "InefficientFilter");
}

TEST_F(GraphMailboxEmulatorTest, UnknownSelectPropertyIsGraphsParseError) {
  SeedMinutes(1);
  auto r = Get(std::string("/v1.0/users/") + kBox + "/messages" + Q({{"$select", "id,nope"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(Json::parse(r->body)["error"]["message"].get<std::string>(), HasSubstr("'nope'"));
}

TEST_F(GraphMailboxEmulatorTest, FiftyAttachmentsAreListedAndLargeOnesWithoutBytes) {
  Json atts = Json::array();
  for (int i = 0; i < 49; ++i) {
    atts.push_back({{"name", "doc" + std::to_string(i) + ".docm"},
                    {"contentBytes", Base64Encode("PK" + std::to_string(i))}});
  }
  atts.push_back(
      {{"name", "big.iso"}, {"generate", {{"size", 5 * 1024 * 1024}, {"pattern", "AB"}}}});
  atts.push_back({{"kind", "item"}, {"name", "Fwd: invoice"}, {"item", {{"subject", "invoice"}}}});
  SeedBox({{{"id", "m1"}, {"attachments", atts}}});
  auto r = Get(std::string("/v1.0/users/") + kBox + "/messages/m1/attachments");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json list = Json::parse(r->body)["value"];
  ASSERT_EQ(list.size(), 51u);
  EXPECT_EQ(list[0]["@odata.type"], "#microsoft.graph.fileAttachment");
  EXPECT_EQ(list[0]["contentBytes"], Base64Encode("PK0"));
  EXPECT_EQ(list[0]["size"], 3);
  EXPECT_EQ(list[49]["size"], 5 * 1024 * 1024);
  EXPECT_FALSE(list[49].contains("contentBytes"));  // over the inline limit: use $value
  EXPECT_EQ(list[50]["@odata.type"], "#microsoft.graph.itemAttachment");
  // $select on the base type leaves the bytes out for every attachment.
  r = Get(std::string("/v1.0/users/") + kBox + "/messages/m1/attachments" +
          Q({{"$select", "id,name,size"}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const Json selected = Json::parse(r->body);
  for (const auto& a : selected["value"]) EXPECT_FALSE(a.contains("contentBytes"));
  // The message says it has attachments.
  r = Get(std::string("/v1.0/users/") + kBox + "/messages/m1" + Q({{"$select", "hasAttachments"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(Json::parse(r->body)["hasAttachments"], true);
}

TEST_F(GraphMailboxEmulatorTest, ValueStreamsAGeneratedHundredMegabyteAttachment) {
  const int64_t size = 100LL * 1024 * 1024;
  Json attachment{{"id", "a1"},
                  {"name", "huge.bin"},
                  {"generate", {{"size", size}, {"pattern", "0123456789"}}}};
  SeedBox(Json::array({{{"id", "m1"}, {"attachments", Json::array({attachment})}}}));
  int64_t received = 0;
  bool pattern_ok = true;
  auto r = graph_->Get(std::string("/v1.0/users/") + kBox + "/messages/m1/attachments/a1/$value",
                       {{"Authorization", "Bearer " + token_}}, [&](const char* data, size_t n) {
                         for (size_t i = 0; i < n; ++i) {
                           pattern_ok = pattern_ok && data[i] == '0' + (received + i) % 10;
                         }
                         received += static_cast<int64_t>(n);
                         return true;
                       });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(received, size);
  EXPECT_TRUE(pattern_ok);
  // The attachment by id has its metadata but, this large, no bytes inline.
  r = Get(std::string("/v1.0/users/") + kBox + "/messages/m1/attachments/a1");
  ASSERT_TRUE(r);
  const Json a = Json::parse(r->body);
  EXPECT_EQ(a["size"], size);
  EXPECT_FALSE(a.contains("contentBytes"));
}

TEST_F(GraphMailboxEmulatorTest, ItemAttachmentValueIsMimeAndReferenceIs405) {
  SeedBox({{{"id", "m1"},
            {"attachments",
             {{{"id", "i1"}, {"kind", "item"}, {"name", "Fwd"}, {"item", {{"subject", "inner"}}}},
              {{"id", "r1"}, {"kind", "reference"}, {"name", "link"}}}}}});
  auto r = Get(std::string("/v1.0/users/") + kBox + "/messages/m1/attachments/i1/$value");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("Subject: inner"));
  r = Get(std::string("/v1.0/users/") + kBox + "/messages/m1/attachments/r1/$value");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

TEST_F(GraphMailboxEmulatorTest, UnknownMailboxMessageAndAttachmentAre404) {
  SeedMinutes(1);
  auto r = Get("/v1.0/users/nobody@contoso.com/messages");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "ErrorInvalidUser");
  r = Get(std::string("/v1.0/users/") + kBox + "/messages/nope/attachments");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "ErrorItemNotFound");
  r = Get(std::string("/v1.0/users/") + kBox + "/messages/m0/attachments/nope/$value");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(GraphMailboxEmulatorTest, WithoutMailReadTheAnswerIs403AndAnotherAudience401) {
  SeedMinutes(1);
  ASSERT_FALSE(set_->Seed({{"entra", {{"graph_granted_roles", {"Mail.Send"}}}}}));
  const std::string weak = Token("https://graph.microsoft.com/.default");
  auto r = Get(std::string("/v1.0/users/") + kBox + "/messages", weak);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "ErrorAccessDenied");
  r = Get(std::string("/v1.0/users/") + kBox + "/messages",
          Token("https://management.azure.com/.default"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(GraphMailboxEmulatorTest, InjectedThrottlingCarriesRetryAfter) {
  SeedMinutes(1);
  FaultRule rule;
  rule.method = "GET";
  rule.path_regex = "/v1\\.0/users/.*/messages";
  rule.status = 429;
  rule.retry_after = "7";
  set_->graph().AddFault(rule);
  auto r = Get(std::string("/v1.0/users/") + kBox + "/messages");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "7");
  r = Get(std::string("/v1.0/users/") + kBox + "/messages");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(GraphMailboxEmulatorTest, WritingToTheMailboxIsAnAssertion) {
  SeedMinutes(1);
  check_assertions_ = false;
  auto r = graph_->Delete(std::string("/v1.0/users/") + kBox + "/messages/m0",
                          {{"Authorization", "Bearer " + token_}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(set_->AssertionFailures(), testing::Not(IsEmpty()));
}

TEST_F(GraphMailboxEmulatorTest, BadSeedIsRefusedAndStateShowsTheMailbox) {
  EXPECT_TRUE(set_->Seed({{"graph", {{"mailboxes", {{{"messages", Json::array()}}}}}}}));
  EXPECT_TRUE(set_->Seed(
      {{"graph",
        {{"mailboxes",
          {{{"address", kBox}, {"messages", {{{"attachments", {{{"name", "x"}}}}}}}}}}}}}));
  EXPECT_TRUE(set_->Seed(
      {{"graph",
        {{"mailboxes",
          {{{"address", kBox}, {"messages", {{{"receivedDateTime", "yesterday"}}}}}}}}}}));
  SeedMinutes(2);
  const Json state = set_->graph().StateJson();
  ASSERT_EQ(state["mailboxes"].size(), 1u);
  EXPECT_EQ(state["mailboxes"][0]["address"], kBox);
  EXPECT_EQ(state["mailboxes"][0]["messages"].size(), 2u);
  set_->graph().ResetState();
  EXPECT_EQ(set_->graph().StateJson()["mailboxes"].size(), 0u);
}

}  // namespace
}  // namespace vc::emu
