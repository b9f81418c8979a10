// The one HTML escaping function of the project: the status page and the alert mail pass every
// value through it, so text from alerts, file names and error messages shows as text and can
// never become markup.
#pragma once

#include <string>
#include <string_view>

namespace vc {

// Escapes & < > " ' for element content and quoted attribute values. Bytes that are not valid
// UTF-8 and control characters other than tab and newline become U+FFFD, so a value can
// neither break the page's encoding nor smuggle in invisible characters.
std::string EscapeHtml(std::string_view text);

}  // namespace vc
