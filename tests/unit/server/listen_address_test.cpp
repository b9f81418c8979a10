#include <gtest/gtest.h>

#include "server/listen_address.hpp"

namespace vc::server {
namespace {

TEST(ListenAddress, ParsesHostAndPort) {
  auto a = ParseListenAddress("127.0.0.1:9464");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9464);
  EXPECT_TRUE(IsLoopback(*a));

  auto any = ParseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->port, 0);
  EXPECT_FALSE(IsLoopback(*any));

  auto v6 = ParseListenAddress("[::1]:9464");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(IsLoopback(*v6));
  EXPECT_TRUE(IsLoopback(*ParseListenAddress("localhost:1")));
  EXPECT_TRUE(IsLoopback(*ParseListenAddress("127.1.2.3:1")));
  EXPECT_FALSE(IsLoopback(*ParseListenAddress("10.0.0.5:9464")));
}

TEST(ListenAddress, RejectsWhatCannotBeBoundWithTheFormToUse) {
  for (const char* bad :
       {"9464", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:99999", "127.0.0.1:-1",
        "127.0.0.1:94x", "example.com:9464", "::1:9464", "[127.0.0.1]:9464"}) {
    auto a = ParseListenAddress(bad);
    ASSERT_FALSE(a) << bad;
    EXPECT_NE(a.error().message.find("ops.listen"), std::string::npos) << a.error().message;
    EXPECT_NE(a.error().message.find("127.0.0.1:9464"), std::string::npos) << a.error().message;
  }
}

}  // namespace
}  // namespace vc::server
