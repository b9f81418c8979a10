// E-mail address checks. Addresses reach SMTP commands and headers, so only the plain
// addr-spec form ("local@domain", dot-atom on both sides) is accepted: no display names, quoted
// local parts, comments or whitespace, which is everything a header or command injection needs.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vc::mail {

// kInvalidArgument naming the address and what is wrong with it.
Status ValidateAddress(std::string_view address);
// The part after the last '@' (empty without one): the domain of a Message-ID.
std::string DomainOf(std::string_view address);

}  // namespace vc::mail
