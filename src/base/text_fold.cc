#include "base/text_fold.h"

#include <cstddef>
#include <cstdint>

#include "base/utf8.h"

namespace fs::base {
namespace {

// U+00C0-U+017F to their folded letters ("" for the two non-letters × and ÷). Generated from
// the Unicode canonical decompositions' base letters, with the letters that have none (æ, ð,
// ø, þ, ß, đ, ħ, ı, ĳ, ĸ, ŀ, ł, ŉ, ŋ, œ, ŧ, ſ) mapped by hand.
constexpr const char* kLatinFold[] = {
    /* U+00C0 */ "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "ae",
    "c",
    "e",
    "e",
    "e",
    "e",
    "i",
    "i",
    "i",
    "i",
    /* U+00D0 */ "d",
    "n",
    "o",
    "o",
    "o",
    "o",
    "o",
    "",
    "o",
    "u",
    "u",
    "u",
    "u",
    "y",
    "th",
    "ss",
    /* U+00E0 */ "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "ae",
    "c",
    "e",
    "e",
    "e",
    "e",
    "i",
    "i",
    "i",
    "i",
    /* U+00F0 */ "d",
    "n",
    "o",
    "o",
    "o",
    "o",
    "o",
    "",
    "o",
    "u",
    "u",
    "u",
    "u",
    "y",
    "th",
    "y",
    /* U+0100 */ "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "c",
    "c",
    "c",
    "c",
    "c",
    "c",
    "c",
    "c",
    "d",
    "d",
    /* U+0110 */ "d",
    "d",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "g",
    "g",
    "g",
    "g",
    /* U+0120 */ "g",
    "g",
    "g",
    "g",
    "h",
    "h",
    "h",
    "h",
    "i",
    "i",
    "i",
    "i",
    "i",
    "i",
    "i",
    "i",
    /* U+0130 */ "i",
    "i",
    "ij",
    "ij",
    "j",
    "j",
    "k",
    "k",
    "k",
    "l",
    "l",
    "l",
    "l",
    "l",
    "l",
    "l",
    /* U+0140 */ "l",
    "l",
    "l",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "o",
    "o",
    "o",
    "o",
    /* U+0150 */ "o",
    "o",
    "oe",
    "oe",
    "r",
    "r",
    "r",
    "r",
    "r",
    "r",
    "s",
    "s",
    "s",
    "s",
    "s",
    "s",
    /* U+0160 */ "s",
    "s",
    "t",
    "t",
    "t",
    "t",
    "t",
    "t",
    "u",
    "u",
    "u",
    "u",
    "u",
    "u",
    "u",
    "u",
    /* U+0170 */ "u",
    "u",
    "u",
    "u",
    "w",
    "w",
    "y",
    "y",
    "y",
    "z",
    "z",
    "z",
    "z",
    "z",
    "z",
    "s",
};

bool IsSeparator(std::uint32_t code_point) {
  if (code_point < 0x80) {
    const auto c = static_cast<char>(code_point);
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  }
  return (code_point >= 0x80 && code_point <= 0xBF) || code_point == 0xD7 || code_point == 0xF7 ||
         (code_point >= 0x2000 && code_point <= 0x206F) ||
         (code_point >= 0x3000 && code_point <= 0x303F);
}

// Calls on_word(word) for each folded word of `text`.
template <typename OnWord>
void ForEachWord(std::string_view text, OnWord on_word) {
  std::string word;
  std::uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = DecodeUtf8(text, i, code_point);
    if (length == 0 || IsSeparator(code_point)) {
      if (!word.empty()) on_word(std::move(word));
      word.clear();
      i += length == 0 ? 1 : length;
      continue;
    }
    if (code_point < 0x80) {
      const auto c = static_cast<char>(code_point);
      word += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    } else if (code_point >= 0xC0 && code_point <= 0x17F) {
      word += kLatinFold[code_point - 0xC0];
    } else {
      word.append(text.substr(i, length));
    }
    i += length;
  }
  if (!word.empty()) on_word(std::move(word));
}

}  // namespace

std::vector<std::string> FoldedWords(std::string_view text) {
  std::vector<std::string> words;
  ForEachWord(text, [&words](std::string word) { words.push_back(std::move(word)); });
  return words;
}

std::string FoldedText(std::string_view text) {
  std::string out;
  ForEachWord(text, [&out](const std::string& word) {
    if (!out.empty()) out += ' ';
    out += word;
  });
  return out;
}

}  // namespace fs::base
