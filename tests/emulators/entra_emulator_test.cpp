// The Entra token endpoint emulator against a real HTTP client: v1 and v2 success, every error
// case in Entra's shape, tokens accepted (and expired) at the MDE emulator, secret hygiene.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "emulator_set.hpp"

namespace vc::emu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr const char* kMdeResource = "https://api.securitycenter.microsoft.com";

class EntraEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = std::make_unique<EmulatorSet>(EmulatorSetOptions{}, clock_);
    set_->Start();
    entra_ = std::make_unique<httplib::Client>(set_->entra().BaseUrl());
  }
  void TearDown() override {
    if (!expect_assertions_) {
      EXPECT_THAT(set_->AssertionFailures(), IsEmpty());
    }
  }

  const EntraEmulator::Options& opts() const { return set_->entra().options(); }

  httplib::Params Form(const std::string& resource_key, const std::string& resource) const {
    return {{"grant_type", "client_credentials"},
            {"client_id", opts().client_id},
            {"client_secret", opts().client_secret},
            {resource_key, resource}};
  }
  httplib::Result V2(const httplib::Params& form, const std::string& tenant = "") {
    return entra_->Post(
        ("/" + (tenant.empty() ? opts().tenant_id : tenant) + "/oauth2/v2.0/token").c_str(), form);
  }
  httplib::Result V1(const httplib::Params& form) {
    return entra_->Post(("/" + opts().tenant_id + "/oauth2/token").c_str(), form);
  }
  static httplib::Params With(httplib::Params form, const std::string& key,
                              const std::string& value) {
    form.erase(key);
    form.emplace(key, value);
    return form;
  }
  static httplib::Params Without(httplib::Params form, const std::string& key) {
    form.erase(key);
    return form;
  }

  // Checks Entra's error shape and returns the body.
  static Json ExpectEntraError(const httplib::Result& r, int status, const std::string& error,
                               int aadsts) {
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    const Json j = Json::parse(r->body);
    EXPECT_EQ(j["error"], error) << r->body;
    EXPECT_THAT(j["error_description"].get<std::string>(),
                StartsWith("AADSTS" + std::to_string(aadsts) + ": "));
    EXPECT_EQ(j["error_codes"], Json::array({aadsts}));
    for (auto key : {"timestamp", "trace_id", "correlation_id"}) {
      EXPECT_TRUE(j[key].is_string() && !j[key].get<std::string>().empty()) << key;
    }
    EXPECT_THAT(j["error_description"].get<std::string>(),
                HasSubstr("Trace ID: " + j["trace_id"].get<std::string>()));
    return j;
  }

  int MdeStatusWith(const std::string& token) {
    httplib::Client mde(set_->mde().BaseUrl());
    return mde.Get("/api/alerts", {{"Authorization", "Bearer " + token}})->status;
  }

  ManualClock clock_;
  std::unique_ptr<EmulatorSet> set_;
  std::unique_ptr<httplib::Client> entra_;
  bool expect_assertions_ = false;
};

TEST_F(EntraEmulatorTest, V2IssuesABearerTokenForTheScopeResource) {
  auto r = V2(Form("scope", std::string(kMdeResource) + "/.default"));
  ASSERT_EQ(r->status, 200) << r->body;
  const Json j = Json::parse(r->body);
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["expires_in"], 3599);
  EXPECT_EQ(j["ext_expires_in"], 3599);
  ASSERT_TRUE(j["access_token"].is_string());
  EXPECT_FALSE(j.contains("resource"));
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store, no-cache");
  const std::string token = j["access_token"];
  EXPECT_EQ(set_->tokens().Validate(token, {kMdeResource}, clock_.Now()),
            TokenRegistry::Check::kValid);
  EXPECT_EQ(set_->entra().ClientIdOf(token), opts().client_id);
  EXPECT_EQ(set_->entra().StateJson()["tokens_issued"][kMdeResource], 1);
}

TEST_F(EntraEmulatorTest, V1ReturnsStringNumbersExpiresOnAndResource) {
  auto r = V1(Form("resource", std::string(kMdeResource) + "/"));
  ASSERT_EQ(r->status, 200) << r->body;
  const Json j = Json::parse(r->body);
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["expires_in"], "3599");
  EXPECT_EQ(j["expires_on"], std::to_string(now + 3599));
  EXPECT_EQ(j["not_before"], std::to_string(now));
  EXPECT_EQ(j["resource"], std::string(kMdeResource) + "/");
  // The trailing slash is not part of the audience.
  EXPECT_EQ(set_->tokens().Validate(j["access_token"], {kMdeResource}, clock_.Now()),
            TokenRegistry::Check::kValid);
}

TEST_F(EntraEmulatorTest, UnknownTenant) {
  const Json j = ExpectEntraError(V2(Form("scope", std::string(kMdeResource) + "/.default"),
                                     "00000000-0000-0000-0000-000000000000"),
                                  400, "invalid_request", 90002);
  EXPECT_THAT(j["error_description"].get<std::string>(),
              HasSubstr("00000000-0000-0000-0000-000000000000"));
}

TEST_F(EntraEmulatorTest, UnknownClient) {
  ExpectEntraError(V2(With(Form("scope", std::string(kMdeResource) + "/.default"), "client_id",
                           "11111111-2222-3333-4444-555555555555")),
                   400, "unauthorized_client", 700016);
}

TEST_F(EntraEmulatorTest, WrongSecretIs401AndNeverEchoesASecret) {
  auto r = V2(With(Form("scope", std::string(kMdeResource) + "/.default"), "client_secret",
                   "wrong-DO-NOT-LOG"));
  ExpectEntraError(r, 401, "invalid_client", 7000215);
  EXPECT_THAT(r->body, Not(HasSubstr("DO-NOT-LOG")));
  ExpectEntraError(
      V2(Without(Form("scope", std::string(kMdeResource) + "/.default"), "client_secret")), 400,
      "invalid_client", 7000218);

  // Neither the call log nor the state dump holds a secret.
  // The server logs a call just after answering it: wait (bounded) for both entries.
  for (int i = 0; i < 2000 && set_->entra().Calls().size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string calls = entra_->Get("/_emulator/calls")->body;
  EXPECT_EQ(Json::parse(calls).size(), 2u);
  EXPECT_THAT(calls, HasSubstr("client_secret=[redacted]"));
  EXPECT_THAT(calls, Not(HasSubstr("DO-NOT-LOG")));
  EXPECT_THAT(set_->entra().StateJson().dump(), Not(HasSubstr("DO-NOT-LOG")));
  EXPECT_EQ(set_->entra().StateJson()["errors"]["invalid_client"], 2);
}

TEST_F(EntraEmulatorTest, ScopeWithoutDefaultAndUnknownResources) {
  ExpectEntraError(V2(Form("scope", kMdeResource)), 400, "invalid_scope", 70011);
  ExpectEntraError(V2(Form("scope", std::string(kMdeResource) + "/Alert.Read.All")), 400,
                   "invalid_scope", 70011);
  ExpectEntraError(V2(Form("scope",
                           "https://graph.microsoft.com/.default "
                           "https://management.azure.com/.default")),
                   400, "invalid_scope", 70011);
  ExpectEntraError(V2(Form("scope", "https://unknown.example.com/.default")), 400,
                   "invalid_resource", 500011);
  ExpectEntraError(V1(Form("resource", "https://unknown.example.com")), 400, "invalid_resource",
                   500011);
  ExpectEntraError(V1(Without(Form("resource", kMdeResource), "resource")), 400, "invalid_request",
                   900144);
  ExpectEntraError(
      V2(With(Form("scope", std::string(kMdeResource) + "/.default"), "grant_type", "password")),
      400, "unsupported_grant_type", 70003);
  EXPECT_EQ(set_->tokens().issued(), 0u);
}

TEST_F(EntraEmulatorTest, NonFormBodiesAndSecretsInTheUrlAreAssertions) {
  expect_assertions_ = true;
  auto r = entra_->Post(("/" + opts().tenant_id + "/oauth2/v2.0/token").c_str(),
                        R"({"grant_type":"client_credentials"})", "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("emulator assertion failed"));
  r = entra_->Post(("/" + opts().tenant_id + "/oauth2/v2.0/token?client_secret=x").c_str(),
                   Form("scope", std::string(kMdeResource) + "/.default"));
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(set_->entra().AssertionFailures(), SizeIs(2));
}

TEST_F(EntraEmulatorTest, IssuedTokenWorksAtMdeUntilExpiredOrExpireAll) {
  auto token = [&] {
    return Json::parse(
               V2(Form("scope", std::string(kMdeResource) + "/.default"))->body)["access_token"]
        .get<std::string>();
  };
  const std::string first = token();
  EXPECT_EQ(MdeStatusWith(first), 200);

  ASSERT_FALSE(set_->entra().Seed({{"expire_all_tokens", true}}).has_value());
  EXPECT_EQ(MdeStatusWith(first), 401);
  const std::string second = token();
  EXPECT_EQ(MdeStatusWith(second), 200);

  clock_.Advance(std::chrono::seconds(3599));
  EXPECT_EQ(MdeStatusWith(second), 401);

  // The v2 management token is not an MDE token.
  const std::string management =
      Json::parse(V2(Form("scope", "https://management.azure.com/.default"))->body)["access_token"];
  EXPECT_EQ(MdeStatusWith(management), 401);
}

TEST_F(EntraEmulatorTest, SeedRotatesTheSecret) {
  ASSERT_FALSE(set_->entra().Seed({{"client_secret", "rotated-DO-NOT-LOG"}}).has_value());
  ExpectEntraError(V2(Form("scope", std::string(kMdeResource) + "/.default")), 401,
                   "invalid_client", 7000215);
  EXPECT_EQ(V2(With(Form("scope", std::string(kMdeResource) + "/.default"), "client_secret",
                    "rotated-DO-NOT-LOG"))
                ->status,
            200);
  EXPECT_TRUE(set_->entra().Seed({{"secret", "x"}}).has_value());
  set_->entra().ResetState();
  EXPECT_EQ(V2(Form("scope", std::string(kMdeResource) + "/.default"))->status, 200);
}

TEST_F(EntraEmulatorTest, InjectedFaultsUseEntrasErrorShape) {
  httplib::Client control(set_->entra().BaseUrl());
  ASSERT_EQ(control
                .Post("/_emulator/faults", Json{{"path_regex", "token"}, {"status", 503}}.dump(),
                      "application/json")
                ->status,
            200);
  auto r = V2(Form("scope", std::string(kMdeResource) + "/.default"));
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(Json::parse(r->body)["error"], "temporarily_unavailable");
  EXPECT_EQ(V2(Form("scope", std::string(kMdeResource) + "/.default"))->status, 200);
}

// The payload of a JWT-shaped token (base64url JSON between the first and second '.').
Json JwtPayloadOf(const std::string& token) {
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  EXPECT_NE(second, std::string::npos) << "not header.payload.signature";
  EXPECT_EQ(token.find('.', second + 1), std::string::npos);
  std::string part = token.substr(first + 1, second - first - 1);
  EXPECT_EQ(part.find_first_of("+/="), std::string::npos) << "not unpadded base64url";
  for (char& c : part) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (part.size() % 4 != 0) part.push_back('=');
  auto bytes = Base64Decode(part);
  EXPECT_TRUE(bytes.has_value());
  return Json::parse(bytes.value_or("{}"));
}

TEST_F(EntraEmulatorTest, TokensAreJwtsWithTheClaimsOfAnAppOnlyToken) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  const std::string token =
      Json::parse(V2(Form("scope", std::string(kMdeResource) + "/.default"))->body)["access_token"];
  const Json claims = JwtPayloadOf(token);
  EXPECT_EQ(claims["aud"], kMdeResource);
  EXPECT_EQ(claims["tid"], opts().tenant_id);
  EXPECT_EQ(claims["appid"], opts().client_id);
  EXPECT_EQ(claims["iat"], now);
  EXPECT_EQ(claims["exp"], now + 3599);
  EXPECT_EQ(claims["roles"],
            Json::array({"Alert.ReadWrite.All", "Machine.Read.All", "Machine.LiveResponse",
                         "Library.Manage", "Ti.ReadWrite.All"}));
  EXPECT_EQ(claims, *set_->tokens().ClaimsOf(token));
  EXPECT_EQ(set_->tokens().RolesOf(token).size(), 5u);
  EXPECT_EQ(token.find(opts().client_secret), std::string::npos);

  // A Graph token carries the Graph permissions; a storage token none.
  const std::string graph =
      Json::parse(V2(Form("scope", "https://graph.microsoft.com/.default"))->body)["access_token"];
  EXPECT_EQ(JwtPayloadOf(graph)["roles"], (Json{"SecurityIncident.ReadWrite.All", "Mail.Send"}));
  const std::string storage =
      Json::parse(V2(Form("scope", "https://storage.azure.com/.default"))->body)["access_token"];
  EXPECT_FALSE(JwtPayloadOf(storage).contains("roles"));
  EXPECT_TRUE(set_->tokens().RolesOf(storage).empty());
}

TEST_F(EntraEmulatorTest, SeededRolesApplyToTokensIssuedAfterwards) {
  auto token = [&] {
    return Json::parse(
               V2(Form("scope", std::string(kMdeResource) + "/.default"))->body)["access_token"]
        .get<std::string>();
  };
  const std::string before = token();
  ASSERT_FALSE(
      set_->entra().Seed({{"granted_roles", Json::array({"Alert.Read.All"})}}).has_value());
  const std::string after = token();
  EXPECT_EQ(JwtPayloadOf(after)["roles"], Json::array({"Alert.Read.All"}));
  EXPECT_EQ(JwtPayloadOf(before)["roles"].size(), 5u) << "issued tokens keep their roles";
  EXPECT_EQ(set_->entra().StateJson()["granted_roles"], Json::array({"Alert.Read.All"}));

  // Nothing granted: Entra leaves the claim out.
  ASSERT_FALSE(set_->entra().Seed({{"granted_roles", Json::array()}}).has_value());
  EXPECT_FALSE(JwtPayloadOf(token()).contains("roles"));

  auto problem = set_->entra().Seed({{"granted_roles", Json::array({"Alert.Write"})}});
  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("not a WindowsDefenderATP permission"));
  EXPECT_TRUE(set_->entra().Seed({{"granted_roles", "Alert.Read.All"}}).has_value());

  set_->entra().ResetState();
  EXPECT_EQ(JwtPayloadOf(token())["roles"].size(), 5u);
}

TEST_F(EntraEmulatorTest, TheRegistryNotTheTokenTextDecidesValidity) {
  const std::string token =
      Json::parse(V2(Form("scope", std::string(kMdeResource) + "/.default"))->body)["access_token"];
  ASSERT_EQ(MdeStatusWith(token), 200);
  // Same header and signature, a payload granting more: unknown to the registry.
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  Json claims = JwtPayloadOf(token);
  claims["roles"].push_back("Machine.Isolate");
  std::string payload = Base64Encode(claims.dump());
  while (!payload.empty() && payload.back() == '=') payload.pop_back();
  for (char& c : payload) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  const std::string forged = token.substr(0, first + 1) + payload + token.substr(second);
  EXPECT_EQ(MdeStatusWith(forged), 401);
  EXPECT_EQ(set_->tokens().Validate(forged, {kMdeResource}, clock_.Now()),
            TokenRegistry::Check::kUnknown);
}

TEST(EntraOptionsTest, GrantedRolesAreCheckedPermissionNames) {
  auto o = EntraEmulator::Options::FromJson({{"granted_roles", {"Machine.Read.All"}}});
  EXPECT_THAT(o.granted_roles, ElementsAre("Machine.Read.All"));
  EXPECT_THROW(EntraEmulator::Options::FromJson({{"granted_roles", {"Machines.Read"}}}),
               std::invalid_argument);
  EXPECT_THROW(EntraEmulator::Options::FromJson({{"granted_roles", "Machine.Read.All"}}),
               std::invalid_argument);
}

TEST(EntraOptionsTest, FromJsonIsStrict) {
  auto o = EntraEmulator::Options::FromJson(
      {{"tenant_id", "t"}, {"token_lifetime_seconds", 60}, {"resources", {"https://a/"}}});
  EXPECT_EQ(o.tenant_id, "t");
  EXPECT_EQ(o.token_lifetime_seconds, 60);
  EXPECT_THAT(o.resources, ElementsAre("https://a"));
  EXPECT_THROW(EntraEmulator::Options::FromJson({{"tenant", "t"}}), std::invalid_argument);
  EXPECT_THROW(EntraEmulator::Options::FromJson({{"token_lifetime_seconds", "60"}}),
               std::invalid_argument);
}

}  // namespace
}  // namespace vc::emu
