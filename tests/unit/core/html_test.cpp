// The one escaping function every status page value passes through.
#include <gtest/gtest.h>

#include "core/html.hpp"

namespace vc {
namespace {

TEST(EscapeHtml, EscapesTheFiveMarkupCharacters) {
  EXPECT_EQ(EscapeHtml(R"(<img src=x onerror=alert(1)>)"), "&lt;img src=x onerror=alert(1)&gt;");
  EXPECT_EQ(EscapeHtml(R"(a & b "c" 'd')"), "a &amp; b &quot;c&quot; &#39;d&#39;");
  EXPECT_EQ(EscapeHtml("<b>bold</b>"), "&lt;b&gt;bold&lt;/b&gt;");
  EXPECT_EQ(EscapeHtml("&lt;"), "&amp;lt;") << "an entity in the input stays text";
  EXPECT_EQ(EscapeHtml("</td></tr><script>"), "&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;");
}

TEST(EscapeHtml, KeepsPlainTextAndValidUtf8) {
  EXPECT_EQ(EscapeHtml(""), "");
  EXPECT_EQ(EscapeHtml("C:\\Users\\alice\\invoice.exe"), "C:\\Users\\alice\\invoice.exe");
  EXPECT_EQ(EscapeHtml("Rechnung-März.pdf 請求書 🦠"), "Rechnung-März.pdf 請求書 🦠");
  EXPECT_EQ(EscapeHtml("tab\tand\nnewline"), "tab\tand\nnewline");
}

TEST(EscapeHtml, ReplacesControlCharactersAndBrokenUtf8) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(EscapeHtml(std::string("a\0b", 3)), "a" + replacement + "b");
  EXPECT_EQ(EscapeHtml("a\x1b[31mb"), "a" + replacement + "[31mb");
  EXPECT_EQ(EscapeHtml("\x7f"), replacement);
  EXPECT_EQ(EscapeHtml("\xC3"), replacement) << "truncated sequence";
  EXPECT_EQ(EscapeHtml("\xC0\xBC"), replacement + replacement) << "overlong '<'";
  EXPECT_EQ(EscapeHtml("\xED\xA0\x80"), replacement + replacement + replacement) << "surrogate";
  EXPECT_EQ(EscapeHtml("\xFF<"), replacement + "&lt;");
}

}  // namespace
}  // namespace vc
