// HTML output for the status page. Every value that reaches the page passes EscapeHtml, so text
// from alerts, file names and error messages shows as text and can never become markup.
#pragma once

#include <string>
#include <string_view>

namespace vc::server {

// Escapes & < > " ' for element content and quoted attribute values. Bytes that are not valid
// UTF-8 and control characters other than tab and newline become U+FFFD, so a value can
// neither break the page's encoding nor smuggle in invisible characters.
std::string EscapeHtml(std::string_view text);

}  // namespace vc::server
