// Escaping of bytes for text formats that allow only a few characters as they are.
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

namespace fs::base {

// `text` with every byte but ASCII letters, digits, '-', '_' and '.' written as `marker`
// followed by two upper-case hex digits: '%' gives URL and form encoding
// ("a b" -> "a%20b"), '=' gives the escaping of the e-mail Message-IDs.
std::string EscapeBytes(std::string_view text, char marker);

}  // namespace fs::base
