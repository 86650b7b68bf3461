#include "base/utf8.h"

#include <cstddef>
#include <cstdint>

namespace fs::base {

std::size_t DecodeUtf8(std::string_view text, std::size_t i, std::uint32_t& code_point) {
  const auto byte = [&text](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  std::size_t length = 0;
  std::uint32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    minimum = 0x80;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    minimum = 0x800;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    minimum = 0x10000;
    code_point = lead & 0x07;
  } else {
    return 0;  // a continuation byte or 0xF8-0xFF as a lead
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned char next = byte(i + k);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  if (code_point < minimum) return 0;                          // overlong
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;  // surrogate
  if (code_point > 0x10FFFF) return 0;
  return length;
}

namespace {

std::size_t DecodeOne(std::string_view text, std::size_t i, std::uint32_t& code_point) {
  return DecodeUtf8(text, i, code_point);
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  std::uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = DecodeOne(text, i, code_point);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = DecodeOne(text, i, code_point);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

std::string QuotedForLog(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  out.reserve(text.size() + 2);
  std::uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = DecodeOne(text, i, code_point);
    const bool control =
        length != 0 && (code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F));
    if (length == 0 || control) {
      // One escaped byte; a malformed sequence is escaped byte by byte.
      const std::size_t bytes = length == 0 ? 1 : length;
      for (std::size_t k = 0; k < bytes; ++k) {
        const auto byte = static_cast<unsigned char>(text[i + k]);
        out += "\\x";
        out += kHex[byte >> 4];
        out += kHex[byte & 15];
      }
      i += bytes;
      continue;
    }
    if (code_point == '"' || code_point == '\\') out += '\\';
    out.append(text.substr(i, length));
    i += length;
  }
  out += '"';
  return out;
}

bool IsPrintableUtf8(std::string_view text) {
  std::uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = DecodeOne(text, i, code_point);
    if (length == 0) return false;
    if (code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F)) return false;
    i += length;
  }
  return true;
}

}  // namespace fs::base
