#include "base/email_address.h"

namespace fs::base {
namespace {

constexpr std::size_t kLocalPartBytesMax = 64;
constexpr std::size_t kLabelBytesMax = 63;

bool IsAlphaNumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext.
bool IsAtext(char c) {
  if (IsAlphaNumeric(c)) return true;
  constexpr std::string_view kSymbols = "!#$%&'*+-/=?^_`{|}~";
  return kSymbols.find(c) != std::string_view::npos;
}

// Dot-separated non-empty runs of characters that pass `allowed`.
template <typename Allowed>
bool IsDotSeparated(std::string_view text, Allowed allowed) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  char previous = '\0';
  for (const char c : text) {
    if (c == '.') {
      if (previous == '.') return false;
    } else if (!allowed(c)) {
      return false;
    }
    previous = c;
  }
  return true;
}

bool IsValidDomain(std::string_view domain) {
  if (!IsDotSeparated(domain, [](char c) { return IsAlphaNumeric(c) || c == '-'; })) return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.size() > kLabelBytesMax || label.front() == '-' || label.back() == '-') {
      return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

bool IsValidEmailAddress(std::string_view address) {
  if (address.size() > kEmailAddressBytesMax) return false;
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return false;
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.size() > kLocalPartBytesMax) return false;
  return IsDotSeparated(local, IsAtext) && IsValidDomain(domain);
}

}  // namespace fs::base
