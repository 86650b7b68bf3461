#include "http/admin_parsing.h"

#include <rapidjson/document.h>

#include <charconv>

#include "base/time_format.h"
#include "json/duplicate_keys.h"

namespace fs::http {
namespace {

base::Status Invalid(std::string message) { return base::InvalidArgument(std::move(message)); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

base::Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return Invalid("malformed percent escape in the query string");
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return Invalid("malformed percent escape in the query string");
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

base::Result<std::int64_t> ParseInteger(const std::string& text, const char* name, std::int64_t min,
                                        std::int64_t max) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < min || value > max) {
    return Invalid(std::string(name) + " must be an integer between " + std::to_string(min) +
                   " and " + std::to_string(max));
  }
  return value;
}

}  // namespace

base::Result<std::int64_t> ParseStockBody(std::string_view body) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
      body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return Invalid("request body must be a JSON object {\"delta\": N}");
  }
  if (const auto duplicate = json::FindDuplicateKey(document)) {
    return Invalid("request body has the key \"" + *duplicate + "\" more than once");
  }
  const auto member = document.FindMember("delta");
  if (member == document.MemberEnd() || member->value.IsNull()) {
    return Invalid("delta is required");
  }
  if (!member->value.IsInt64()) return Invalid("delta must be an integer");
  const std::int64_t delta = member->value.GetInt64();
  if (delta == 0) return Invalid("delta must not be 0");
  return delta;
}

base::Result<std::vector<std::pair<std::string, std::string>>> ParseQueryPairs(
    std::string_view target) {
  std::vector<std::pair<std::string, std::string>> pairs;
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return pairs;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    auto name = PercentDecode(pair.substr(0, equals));
    if (!name) return name.error();
    auto value = PercentDecode(equals == std::string_view::npos ? std::string_view()
                                                                : pair.substr(equals + 1));
    if (!value) return value.error();
    pairs.emplace_back(std::move(*name), std::move(*value));
  }
  return pairs;
}

base::Result<std::map<std::string, std::string>> ParseQueryString(std::string_view target) {
  auto pairs = ParseQueryPairs(target);
  if (!pairs) return pairs.error();
  std::map<std::string, std::string> params;
  for (auto& [name, value] : *pairs) {
    if (!params.emplace(std::move(name), std::move(value)).second) {
      return Invalid("query parameter repeated");
    }
  }
  return params;
}

base::Result<audit::AuditQuery> ParseAuditQuery(std::string_view target) {
  auto params = ParseQueryString(target);
  if (!params) return params.error();
  audit::AuditQuery query;
  auto text = [&](const char* name) -> std::optional<std::string> {
    auto it = params->find(name);
    if (it == params->end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
  query.user_id = text("user_id");
  query.sku_id = text("sku_id");
  for (const char* name : {"from", "to"}) {
    const auto value = text(name);
    if (!value) continue;
    const auto time = base::ParseRfc3339(*value);
    if (!time) return Invalid(std::string(name) + " must be an RFC 3339 time");
    (std::string_view(name) == "from" ? query.from : query.to) = *time;
  }
  if (const auto after = text("after_id")) {
    auto value = ParseInteger(*after, "after_id", 0, INT64_MAX);
    if (!value) return value.error();
    query.after_id = *value;
  }
  if (const auto limit = text("limit")) {
    auto value = ParseInteger(*limit, "limit", 1, audit::kAuditPageMax);
    if (!value) return value.error();
    query.limit = static_cast<int>(*value);
  }
  return query;
}

}  // namespace fs::http
