// Text folded for search: case- and accent-insensitive words. "Café Crème" and "CAFE creme"
// fold to the same words, "café" and "cafe" match. Folding covers ASCII, Latin-1 and Latin
// Extended-A letters (U+00C0-U+017F: each to its base letters, æ to "ae", ß to "ss", þ to
// "th"); other code points are kept as they are. Words are runs of letters and digits;
// everything else (ASCII punctuation and spaces, × ÷, Latin-1 symbols U+00A0-U+00BF, general
// punctuation U+2000-U+206F, CJK punctuation U+3000-U+303F, bytes that are not UTF-8) separates
// them.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fs::base {

// The folded words of `text`, in order (repeats kept).
std::vector<std::string> FoldedWords(std::string_view text);

// `text` folded as one string (letters folded, separators kept as one space each, trimmed):
// for exact, case- and accent-insensitive comparison (e.g. a category).
std::string FoldedText(std::string_view text);

}  // namespace fs::base
