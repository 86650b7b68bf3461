// UTF-8 validation for text that is stored or echoed in JSON (user ids, audit metadata).
// Strict (RFC 3629): no overlong forms, no surrogates (U+D800-U+DFFF), nothing above U+10FFFF.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fs::base {

bool IsValidUtf8(std::string_view text);

// Decodes the code point starting at byte `i` of `text` into `code_point`; returns its length
// in bytes, 0 when the bytes there are not well-formed UTF-8. REQUIRES: i < text.size().
std::size_t DecodeUtf8(std::string_view text, std::size_t i, std::uint32_t& code_point);

// True when `text` is valid UTF-8 and holds no control character: C0 (U+0000-U+001F), DEL
// (U+007F) or C1 (U+0080-U+009F). Such text can go into a log line, a JSON string or a
// database column without escaping surprises.
bool IsPrintableUtf8(std::string_view text);

// `text` with every byte that does not begin a well-formed UTF-8 sequence replaced by U+FFFD
// (the replacement character): valid UTF-8 whatever the input, and `text` itself when valid.
std::string ValidUtf8(std::string_view text);

// `text` in double quotes for a log line, so no value can add or change a field: `"` and `\`
// are escaped, and control characters and bytes that are not UTF-8 become \xNN.
std::string QuotedForLog(std::string_view text);

}  // namespace fs::base
