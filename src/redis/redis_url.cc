#include "redis/redis_url.h"

#include <charconv>
#include <optional>

namespace fs::redis {
namespace {

constexpr std::string_view kScheme = "redis://";

// The URL as it may be shown: credentials replaced by "***".
std::string Redacted(std::string_view text) {
  const std::size_t at = text.rfind('@');
  if (!text.starts_with(kScheme) || at == std::string_view::npos) return std::string(text);
  return std::string(kScheme) + "***" + std::string(text.substr(at));
}

base::Status Invalid(std::string_view text, std::string_view why) {
  return base::InvalidArgument("--redis must be redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]: " +
                               std::string(why) + " in '" + Redacted(text) + "'");
}

// A decimal integer in [min, max] spelled with digits only.
bool ParseNumber(std::string_view digits, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (digits.empty() || digits.size() > 18) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  std::int64_t value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (value < min || value > max) return false;
  out = value;
  return true;
}

// Percent-decodes URL user info; nullopt for a malformed escape.
std::optional<std::string> PercentDecoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    const auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (error != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

}  // namespace

std::string RedisUrl::ToString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(kScheme) + (password.empty() ? "" : "***@") +
         (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" +
         std::to_string(database);
}

base::Result<RedisUrl> ParseRedisUrl(std::string_view text) {
  if (!text.starts_with(kScheme)) return Invalid(text, "the scheme must be redis://");
  std::string_view rest = text.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Invalid(text, "options are not supported");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  RedisUrl url;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    const std::size_t colon = user_info.find(':');
    if (colon == std::string_view::npos) {
      return Invalid(text, "credentials must be :PASSWORD@ or USER:PASSWORD@");
    }
    auto user = PercentDecoded(user_info.substr(0, colon));
    auto password = PercentDecoded(user_info.substr(colon + 1));
    if (!user || !password) return Invalid(text, "a malformed %-escape in the credentials");
    if (password->empty()) return Invalid(text, "the password is empty");
    url.username = std::move(*user);
    url.password = std::move(*password);
    authority = authority.substr(at + 1);
  }

  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseNumber(db, 0, kDatabaseIndexMax, url.database)) {
      return Invalid(
          text, "the database must be a number from 0 to " + std::to_string(kDatabaseIndexMax));
    }
  }
  std::string_view host = authority;
  std::string_view port;
  bool port_given = false;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return Invalid(text, "a malformed [IPv6]");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return Invalid(text, "junk after ]");
    port_given = !after.empty();
    if (port_given) port = after.substr(1);
    for (char c : host) {
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return Invalid(text, "a malformed [IPv6]");
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    port_given = colon != std::string_view::npos;
    if (port_given) port = authority.substr(colon + 1);
    for (char c : host) {
      if (!IsHostChar(c)) return Invalid(text, "a malformed host");
    }
  }
  if (host.empty()) return Invalid(text, "the host is missing");
  url.host = std::string(host);
  if (port_given) {
    std::int64_t value = 0;
    if (!ParseNumber(port, 1, 65535, value)) {
      return Invalid(text, "the port must be a number from 1 to 65535");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

}  // namespace fs::redis
