// E-mail addresses the product sends to: the buyer's, from the identity provider's JWT `email`
// claim, and --smtp-from. Only plain addresses (RFC 5321 Mailbox without quoted local parts or
// address literals): the address goes into SMTP commands (MAIL FROM, RCPT TO) and into message
// headers, so every byte that could end a command or a header, or open a comment or a display
// name (controls, spaces, quotes, <>, parentheses, commas, semicolons, backslashes), is refused.
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <string_view>

namespace fs::base {

// RFC 5321's path limit (256 with the angle brackets).
inline constexpr std::size_t kEmailAddressBytesMax = 254;

// True for local@domain where local is 1-64 bytes of RFC 5322 atext and dots (no leading,
// trailing or doubled dot) and domain is dot-separated labels of letters, digits and hyphens
// (1-63 bytes, no leading or trailing hyphen), at most kEmailAddressBytesMax bytes in all.
bool IsValidEmailAddress(std::string_view address);

}  // namespace fs::base
