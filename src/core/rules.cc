#include "core/rules.h"

#include "base/check.h"

namespace fs::core {

bool IsValidSkuId(const std::string& sku_id) {
  if (sku_id.empty() || sku_id.size() > kSkuIdBytesMax) return false;
  for (char c : sku_id) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string ValidateSale(const Sale& sale) {
  if (!IsValidSkuId(sale.sku_id)) return "sku_id must be 1-64 characters of A-Z a-z 0-9 . _ -";
  if (sale.name.empty() || sale.name.size() > kSaleNameBytesMax) return "name must be 1-256 bytes";
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
