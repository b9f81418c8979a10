// The doctor's blob storage row against the real Azurite: an accepted key, a wrong key, an
// unreadable connection string and an account nobody listens on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "app/doctor.hpp"
#include "azurite.hpp"
#include "core/base64.hpp"
#include "support/harness.hpp"

namespace vc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class DoctorBlob : public ::testing::Test {
 protected:
  void SetUp() override {
    auto azurite = test::SharedAzurite();
    ASSERT_TRUE(azurite) << azurite.error().message;
    azurite_ = *azurite;
  }

  app::CheckRow BlobRow(const EnvPairs& overrides) {
    app::DoctorOptions o;
    o.load.environment = h_.Environment(overrides);
    o.clock = &clock_;
    std::ostringstream out;
    auto result = app::RunDoctor(o, out);
    output_ = out.str();
    EXPECT_THAT(output_, Not(HasSubstr("DO-NOT-LOG")));
    for (const auto& row : result.rows) {
      if (row.check == "blob storage") return row;
    }
    ADD_FAILURE() << "no blob storage row\n" << output_;
    return {};
  }

  ManualClock clock_{std::chrono::system_clock::now()};
  Harness h_{clock_};
  test::AzuriteProcess* azurite_ = nullptr;
  std::string output_;
};

TEST_F(DoctorBlob, AcceptedKeyIsOk) {
  auto row = BlobRow({{"AzureStorageConnectionString", azurite_->ConnectionString()}});
  EXPECT_EQ(row.outcome, app::CheckOutcome::kOk) << output_;
  EXPECT_THAT(row.detail, HasSubstr("the key is accepted"));
  EXPECT_THAT(row.detail, HasSubstr("vmray-defender-quarantine-files"));
}

TEST_F(DoctorBlob, WrongKeyIsAProblemThatNamesTheSetting) {
  const std::string wrong = Base64Encode("wrong storage key DO-NOT-LOG 0123456789abcdef");
  auto row = BlobRow({{"AzureStorageConnectionString", azurite_->ConnectionString()},
                      {"AzureStorageAccountKey", wrong}});
  EXPECT_EQ(row.outcome, app::CheckOutcome::kProblem) << output_;
  EXPECT_THAT(row.detail, HasSubstr("refused the key"));
  EXPECT_THAT(row.fix, HasSubstr("AzureStorageConnectionString"));
  EXPECT_THAT(output_, Not(HasSubstr(wrong)));
}

TEST_F(DoctorBlob, UnreachableAccountAndUnreadableStringAreProblems) {
  std::string dead;
  {
    emu::EmulatorSet other;
    other.Start();
    dead = other.vmray().BaseUrl();
    other.Stop();
  }
  auto unreachable =
      BlobRow({{"AzureStorageConnectionString",
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" +
                    Base64Encode("k") + ";BlobEndpoint=" + dead + "/devstoreaccount1"}});
  EXPECT_EQ(unreachable.outcome, app::CheckOutcome::kProblem) << output_;
  EXPECT_THAT(unreachable.detail, HasSubstr("cannot reach the storage account"));

  auto unreadable = BlobRow({{"AzureStorageConnectionString", "not a connection string"}});
  EXPECT_EQ(unreadable.outcome, app::CheckOutcome::kProblem) << output_;
  EXPECT_THAT(unreadable.detail, HasSubstr("cannot be read"));
}

TEST_F(DoctorBlob, NoStorageAccountIsSkippedWithWhatItMeans) {
  auto row = BlobRow({});
  EXPECT_EQ(row.outcome, app::CheckOutcome::kSkipped);
  EXPECT_THAT(row.fix, HasSubstr("AzureStorageConnectionString"));
}

}  // namespace
}  // namespace vc::testing
