// Pure sale rules: validation of a sale definition, its status at a time, and the decision
// on one reserve request. No state, no I/O, no clock: time is an argument.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace fs::core {

// Largest quantity one request may ask for. Above it the request is malformed (400), not a
// business refusal: no sale sells a thousand units to one person in a flash sale.
inline constexpr std::int32_t kQuantityMax = 1000;
// Largest stock of one sale: keeps every counter sum far from int64 overflow.
inline constexpr std::int64_t kTotalStockMax = 1'000'000'000;
inline constexpr std::int64_t kPriceCentsMax = 1'000'000'000'000;
inline constexpr std::int32_t kReservationTtlSecondsMax = 24 * 3600;
inline constexpr std::size_t kSkuIdBytesMax = 64;
inline constexpr std::size_t kSaleNameBytesMax = 256;
inline constexpr std::size_t kDescriptionBytesMax = 4'000;
inline constexpr std::size_t kImageUrlBytesMax = 2'048;
inline constexpr std::size_t kCategoryCharactersMax = 64;
inline constexpr std::size_t kTagsMax = 16;
inline constexpr std::size_t kTagBytesMax = 32;
inline constexpr std::size_t kUserIdBytesMax = 255;
inline constexpr std::size_t kIdempotencyKeyBytesMax = 255;
static_assert(kQuantityMax < kTotalStockMax);

// Returns an empty string when the sale is valid, else the reason (safe to show a client).
std::string ValidateSale(const Sale& sale);
// "" when the details are valid, else why not (naming the field).
std::string ValidateSaleDetails(const SaleDetails& details);
// Tags as one stored text ("a,b,c"; "" for none) and back: tags never hold a comma.
std::string JoinTags(const std::vector<std::string>& tags);
std::vector<std::string> SplitTags(std::string_view text);
// A sale's name: 1-256 bytes of printable UTF-8.
std::string ValidateSaleName(const std::string& name);
// sku ids are 1..64 of [A-Za-z0-9._-]: they appear in URLs and metric labels.
bool IsValidSkuId(const std::string& sku_id);

SaleStatus ComputeSaleStatus(const Sale& sale, const StockCounters& counters, Time now);

enum class ReserveDecision : std::uint8_t {
  kGrant,
  kSoldOut,
  kLimitExceeded,
  kSaleNotOpen,
  kSaleClosed,
};

// REQUIRES: 1 <= quantity <= kQuantityMax; user_units >= 0.
ReserveDecision DecideReserve(const Sale& sale, const StockCounters& counters,
                              std::int32_t user_units, std::int32_t quantity, Time now);

}  // namespace fs::core
