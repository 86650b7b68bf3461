#include "core/rules.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "base/check.h"
#include "base/utf8.h"

namespace fs::core {

bool IsValidSkuId(const std::string& sku_id) {
  if (sku_id.empty() || sku_id.size() > kSkuIdBytesMax) return false;
  for (char c : sku_id) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

namespace {

// Printable UTF-8, and how many code points; nullopt when not UTF-8 or a control character
// other than those `allowed` appears.
std::optional<std::size_t> PrintableLength(const std::string& text, std::string_view allowed) {
  std::size_t count = 0;
  std::uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = base::DecodeUtf8(text, i, code_point);
    if (length == 0) return std::nullopt;
    const bool control = code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
    if (control && allowed.find(static_cast<char>(code_point)) == std::string_view::npos) {
      return std::nullopt;
    }
    i += length;
    ++count;
  }
  return count;
}

bool IsTag(const std::string& tag) {
  if (tag.empty() || tag.size() > kTagBytesMax) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string text;
  for (const std::string& tag : tags) {
    if (!text.empty()) text += ',';
    text += tag;
  }
  return text;
}

std::vector<std::string> SplitTags(std::string_view text) {
  std::vector<std::string> tags;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    tags.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return tags;
}

std::string ValidateSaleName(const std::string& name) {
  if (name.empty() || name.size() > kSaleNameBytesMax || !PrintableLength(name, "")) {
    return "name must be 1-256 bytes of printable UTF-8";
  }
  return "";
}

std::string ValidateSaleDetails(const SaleDetails& details) {
  if (details.description.size() > kDescriptionBytesMax ||
      !PrintableLength(details.description, "\n\t\r")) {
    return "description must be plain UTF-8 text of at most 4000 bytes";
  }
  if (!details.image_url.empty()) {
    const std::string& url = details.image_url;
    const bool https = url.starts_with("https://") && url.size() > 8;
    const bool path = url.starts_with("/") && !url.starts_with("//");
    const bool visible = std::all_of(url.begin(), url.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte > 0x20 && byte < 0x7F;
    });
    if (url.size() > kImageUrlBytesMax || !(https || path) || !visible) {
      return "image_url must be an https:// URL or a path starting with / (at most 2048 bytes "
             "of visible ASCII)";
    }
  }
  if (!details.category.empty()) {
    const auto length = PrintableLength(details.category, "");
    if (!length || *length > kCategoryCharactersMax) {
      return "category must be 1-64 characters of printable UTF-8";
    }
  }
  if (details.tags.size() > kTagsMax) return "tags must be at most 16";
  for (const std::string& tag : details.tags) {
    if (!IsTag(tag)) return "tags must each be 1-32 characters of a-z 0-9 -";
  }
  return "";
}

std::string ValidateSale(const Sale& sale) {
  if (!IsValidSkuId(sale.sku_id)) return "sku_id must be 1-64 characters of A-Z a-z 0-9 . _ -";
  if (std::string reason = ValidateSaleName(sale.name); !reason.empty()) return reason;
  if (std::string reason = ValidateSaleDetails(sale.details); !reason.empty()) return reason;
  if (sale.price_cents < 0 || sale.price_cents > kPriceCentsMax)
    return "price_cents must be between 0 and 1000000000000";
  if (sale.currency.size() != 3) return "currency must be a 3-letter ISO 4217 code";
  for (char c : sale.currency) {
    if (c < 'A' || c > 'Z') return "currency must be a 3-letter ISO 4217 code";
  }
  if (sale.total_stock < 0 || sale.total_stock > kTotalStockMax)
    return "total_stock must be between 0 and 1000000000";
  if (sale.per_user_limit < 1 || sale.per_user_limit > kQuantityMax)
    return "per_user_limit must be between 1 and 1000";
  if (sale.reservation_ttl_seconds < 1 || sale.reservation_ttl_seconds > kReservationTtlSecondsMax)
    return "reservation_ttl_seconds must be between 1 and 86400";
  if (sale.starts_at && sale.ends_at && *sale.ends_at <= *sale.starts_at)
    return "ends_at must be after starts_at";
  return "";
}

SaleStatus ComputeSaleStatus(const Sale& sale, const StockCounters& counters, Time now) {
  if (sale.override_state == SaleOverride::kClosed) return SaleStatus::kClosed;
  if (sale.ends_at && now >= *sale.ends_at) return SaleStatus::kClosed;
  const bool before_start = sale.starts_at && now < *sale.starts_at;
  if (before_start && sale.override_state != SaleOverride::kOpened) return SaleStatus::kScheduled;
  if (counters.available() <= 0) return SaleStatus::kSoldOut;
  return SaleStatus::kOpen;
}

ReserveDecision DecideReserve(const Sale& sale, const StockCounters& counters,
                              std::int32_t user_units, std::int32_t quantity, Time now) {
  FS_CHECK(quantity >= 1);
  FS_CHECK(quantity <= kQuantityMax);
  FS_CHECK(user_units >= 0);
  switch (ComputeSaleStatus(sale, counters, now)) {
    case SaleStatus::kClosed:
      return ReserveDecision::kSaleClosed;
    case SaleStatus::kScheduled:
      return ReserveDecision::kSaleNotOpen;
    case SaleStatus::kOpen:
    case SaleStatus::kSoldOut:
      break;
  }
  if (static_cast<std::int64_t>(user_units) + quantity > sale.per_user_limit)
    return ReserveDecision::kLimitExceeded;
  if (counters.available() < quantity) return ReserveDecision::kSoldOut;
  return ReserveDecision::kGrant;
}

}  // namespace fs::core
