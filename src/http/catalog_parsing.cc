#include "http/catalog_parsing.h"

#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "base/text_fold.h"
#include "base/time_format.h"
#include "base/utf8.h"
#include "http/admin_parsing.h"

namespace fs::http {
namespace {

base::Status Invalid(std::string message) { return base::InvalidArgument(std::move(message)); }

std::optional<std::int64_t> Integer(const std::string& text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<core::SaleStatus> StatusNamed(std::string_view name) {
  if (name == "SCHEDULED") return core::SaleStatus::kScheduled;
  if (name == "OPEN") return core::SaleStatus::kOpen;
  if (name == "SOLD_OUT") return core::SaleStatus::kSoldOut;
  if (name == "CLOSED") return core::SaleStatus::kClosed;
  return std::nullopt;
}

std::optional<CatalogSort> SortNamed(std::string_view name) {
  if (name == "relevance") return CatalogSort::kRelevance;
  if (name == "starts_at") return CatalogSort::kStartsAt;
  if (name == "price") return CatalogSort::kPrice;
  if (name == "-price") return CatalogSort::kPriceDescending;
  return std::nullopt;
}

}  // namespace

base::Result<CatalogQuery> ParseCatalogQuery(std::string_view target, const Catalog& catalog) {
  auto pairs = ParseQueryPairs(target);
  if (!pairs) return pairs.error();
  CatalogQuery query;
  std::optional<std::string> q;
  std::optional<std::string> sort;
  std::optional<std::string> cursor;
  for (const auto& [name, value] : *pairs) {
    if (name == "q") {
      if (value.size() > kCatalogQueryBytesMax || !base::IsValidUtf8(value)) {
        return Invalid("q must be at most 128 bytes of UTF-8");
      }
      q = value;
    } else if (name == "status") {
      query.statuses.clear();
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        const auto status = StatusNamed(rest.substr(0, comma));
        if (!status) {
          return Invalid(
              "status must be a comma-separated list of SCHEDULED, OPEN, SOLD_OUT and "
              "CLOSED");
        }
        query.statuses.push_back(*status);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (name == "min_price_cents" || name == "max_price_cents") {
      const auto cents = Integer(value);
      if (!cents || *cents < 0) return Invalid(name + " must be a non-negative integer");
      (name == "min_price_cents" ? query.min_price_cents : query.max_price_cents) = *cents;
    } else if (name == "starts_after" || name == "starts_before") {
      const auto time = base::ParseRfc3339(value);
      if (!time) return Invalid(name + " must be an RFC 3339 time");
      (name == "starts_after" ? query.starts_after : query.starts_before) = *time;
    } else if (name == "sort") {
      sort = value;
    } else if (name == "limit") {
      const auto limit = Integer(value);
      if (!limit || *limit < 1 || *limit > kCatalogPageMax) {
        return Invalid("limit must be an integer between 1 and 100");
      }
      query.limit = static_cast<int>(*limit);
    } else if (name == "cursor") {
      cursor = value;
    } else if (name == "category") {
      if (value.empty() || !base::IsValidUtf8(value)) {
        return Invalid("category must be 1-64 characters of UTF-8");
      }
      query.category = base::FoldedText(value);
    } else if (name == "tag") {
      if (value.empty() || value.size() > 32) return Invalid("tag must be 1-32 characters");
      query.tags.push_back(value);
    }
  }
  if (query.min_price_cents && query.max_price_cents &&
      *query.min_price_cents > *query.max_price_cents) {
    return Invalid("min_price_cents must not be above max_price_cents");
  }
  if (q) query.words = base::FoldedWords(*q);
  query.sort = q ? CatalogSort::kRelevance : CatalogSort::kStartsAt;
  if (sort) {
    const auto named = SortNamed(*sort);
    if (!named) return Invalid("sort must be relevance, starts_at, price or -price");
    query.sort = *named;
  }
  if (cursor) {
    query.after = catalog.DecodeCursor(*cursor);
    if (!query.after) return Invalid("cursor was not issued by this service");
    if (query.after->sort != query.sort) {
      return Invalid("cursor belongs to another sort; start again without it");
    }
  }
  return query;
}

}  // namespace fs::http
