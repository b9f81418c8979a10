// Error answers of the Blob service (bodies as the service and Azurite send them) and the small
// XML reader behind them.
#include "clients/blob/errors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "clients/blob/xml.hpp"

namespace vc::blob {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

http::Response Answer(int status, std::string code, std::string message, bool header = true) {
  http::Response r;
  r.status = status;
  r.headers.Set("x-ms-request-id", "6b5a1c2e-0001-0042-1d2e-abcdef000000");
  if (header && !code.empty()) r.headers.Set("x-ms-error-code", code);
  if (!message.empty() || !code.empty()) {
    r.body = "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" + code +
             "</Code><Message>" + message +
             "\nRequestId:6b5a1c2e-0001-0042-1d2e-abcdef000000\nTime:2023-11-14T22:13:20.0000000Z"
             "</Message></Error>";
  }
  return r;
}

TEST(BlobErrors, BlobNotFound) {
  Error e = MapBlobError(Answer(404, "BlobNotFound", "The specified blob does not exist."),
                         "read blob c/x", "c");
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  EXPECT_EQ(e.service, "blob");
  EXPECT_EQ(e.service_code, "BlobNotFound");
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.request_id, "6b5a1c2e-0001-0042-1d2e-abcdef000000");
  EXPECT_THAT(e.message, HasSubstr("read blob c/x"));
  EXPECT_THAT(e.message, Not(HasSubstr("Time:")));
}

TEST(BlobErrors, ContainerNotFoundNamesTheContainer) {
  Error e =
      MapBlobError(Answer(404, "ContainerNotFound", "The specified container does not exist."),
                   "write blob quarantine/x", "quarantine");
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  EXPECT_THAT(e.message, HasSubstr("container 'quarantine' does not exist"));
}

TEST(BlobErrors, CodeFromTheBodyWhenTheHeaderIsMissing) {
  Error e = MapBlobError(Answer(409, "ContainerAlreadyExists", "exists", false), "create", "c");
  EXPECT_EQ(e.service_code, "ContainerAlreadyExists");
  EXPECT_EQ(e.code, ErrorCode::kConflict);
}

TEST(BlobErrors, CodeFromTheHeaderForBodilessAnswers) {
  http::Response head;
  head.status = 404;
  head.headers.Set("x-ms-error-code", "BlobNotFound");
  Error e = MapBlobError(head, "read properties of blob c/x", "c");
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  EXPECT_EQ(e.service_code, "BlobNotFound");
}

TEST(BlobErrors, AuthenticationFailuresPointAtTheKeyAndQuoteNoSignature) {
  http::Response r =
      Answer(403, "AuthenticationFailed", "Server failed to authenticate the request.");
  // The real service explains a signature mismatch by quoting the signature and the signed text.
  r.body.insert(r.body.find("</Error>"),
                "<AuthenticationErrorDetail>The MAC signature found in the HTTP request "
                "'DO-NOT-LOG-signature' is not the same as any computed signature. Server used "
                "following string to sign: 'PUT\n\n...'.</AuthenticationErrorDetail>");
  Error e = MapBlobError(r, "write blob c/x", "c");
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(e.message, HasSubstr("AccountKey"));
  EXPECT_THAT(e.message, HasSubstr("SAS"));
  EXPECT_THAT(e.ToString(), Not(HasSubstr("DO-NOT-LOG")));
  Error mismatch = MapBlobError(
      Answer(403, "AuthorizationPermissionMismatch", "This request is not authorized."), "read",
      "c");
  EXPECT_EQ(mismatch.code, ErrorCode::kPermissionDenied);
}

TEST(BlobErrors, ServerErrorsAreUnavailableAndThrottlingRateLimited) {
  Error busy = MapBlobError(Answer(503, "ServerBusy", "The server is busy."), "list", "c");
  EXPECT_EQ(busy.code, ErrorCode::kUnavailable);
  EXPECT_TRUE(busy.IsTransient());
  Error internal = MapBlobError(Answer(500, "InternalError", ""), "list", "c");
  EXPECT_EQ(internal.code, ErrorCode::kUnavailable);
  http::Response throttled = Answer(429, "", "");
  throttled.headers.Set("Retry-After", "7");
  Error slow = MapBlobError(throttled, "list", "c");
  EXPECT_EQ(slow.code, ErrorCode::kRateLimited);
  ASSERT_TRUE(slow.retry_after);
  EXPECT_EQ(*slow.retry_after, std::chrono::seconds(7));
  Error bad = MapBlobError(Answer(400, "InvalidBlobOrBlock", "bad"), "write", "c");
  EXPECT_EQ(bad.code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.message, HasSubstr("InvalidBlobOrBlock"));
}

TEST(BlobXml, ElementsTextAndEntities) {
  const std::string xml =
      "<EnumerationResults><Blobs>"
      "<Blob><Name>a &amp; b&#x2F;&#228;&lt;&gt;&quot;&apos;</Name><Properties/></Blob>"
      "<Blob><Name Encoded=\"true\">%EF%BF%BE</Name></Blob>"
      "<BlobPrefix><Name>p/</Name></BlobPrefix>"
      "</Blobs><NextMarker/><NameX>no</NameX></EnumerationResults>";
  const auto blobs = XmlElements(xml, "Blob");
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(XmlFirstText(blobs[0].inner, "Name"), "a & b/\xC3\xA4<>\"'");
  const auto name = XmlElements(blobs[1].inner, "Name");
  ASSERT_EQ(name.size(), 1u);
  EXPECT_EQ(XmlAttribute(name[0].attributes, "Encoded"), "true");
  EXPECT_EQ(XmlFirstText(xml, "NextMarker"), "");
  EXPECT_EQ(XmlElements(xml, "NameX").size(), 1u);
  EXPECT_EQ(XmlElements(xml, "Name").size(), 3u);  // <NameX> is not <Name>
}

TEST(BlobXml, MalformedInputIsNotFoundNotACrash) {
  EXPECT_EQ(XmlFirstText("<Code>unterminated", "Code"), std::nullopt);
  EXPECT_EQ(XmlFirstText("<Code", "Code"), std::nullopt);
  EXPECT_EQ(XmlFirstText("", "Code"), std::nullopt);
  EXPECT_EQ(XmlUnescape("&bogus; &#0; &#xD800; &amp"), "&bogus; &#0; &#xD800; &amp");
  EXPECT_EQ(XmlAttribute("Encoded=true", "Encoded"), std::nullopt);
  EXPECT_EQ(XmlAttribute("NotEncoded=\"true\"", "Encoded"), std::nullopt);
  EXPECT_THAT(XmlElements("<a>1</a><a/><a x='y'>2</a>", "a").size(), 3u);
}

}  // namespace
}  // namespace vc::blob
