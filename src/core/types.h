// Domain value types: a sale (one SKU), a reservation and an idempotency record.
// Persisted enums are append-only: their numeric values are stored (docs/storage.md).
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"

namespace fs::core {

using base::Time;

enum class SaleStatus : std::uint8_t { kScheduled, kOpen, kSoldOut, kClosed };

// An operator's explicit decision on a sale, beside its schedule. Persisted: append-only.
enum class SaleOverride : std::uint8_t { kNone = 0, kOpened = 1, kClosed = 2 };

// Whether reserving needs a pass from the sale's fair waiting room (core/waiting_room.h).
enum class WaitingRoomMode : std::uint8_t { kOff, kOn };

inline constexpr std::int32_t kDefaultPerUserLimit = 1;
inline constexpr std::int32_t kDefaultReservationTtlSeconds = 120;

// What a buyer reads about a sale beside its terms; the catalog searches it. Changed by an
// operator (PATCH /admin/v1/skus/{sku}); each empty when not set.
struct SaleDetails {
  std::string description;        // plain UTF-8, at most 4,000 bytes
  std::string image_url;          // an https:// URL or a path starting with "/"
  std::string category;           // 1-64 characters
  std::vector<std::string> tags;  // at most 16, each 1-32 characters of [a-z0-9-]
  bool operator==(const SaleDetails&) const = default;
};

struct Sale {
  std::string sku_id;
  std::string name;
  std::int64_t price_cents = 0;
  std::string currency;
  std::int64_t total_stock = 0;
  std::int32_t per_user_limit = kDefaultPerUserLimit;
  std::int32_t reservation_ttl_seconds = kDefaultReservationTtlSeconds;
  std::optional<Time> starts_at;
  std::optional<Time> ends_at;
  SaleOverride override_state = SaleOverride::kNone;
  Time created_at{};
  WaitingRoomMode waiting_room = WaitingRoomMode::kOff;
  SaleDetails details;
};

// Units of one SKU by state. held = units in RESERVED or CHECKOUT_PENDING reservations.
struct StockCounters {
  std::int64_t total = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
  std::int64_t available() const { return total - held - sold; }
};

// Persisted: append-only values.
enum class ReservationStatus : std::uint8_t {
  kReserved = 1,
  kCheckoutPending = 2,
  kPurchased = 3,
  kExpired = 4,
  kReleased = 5,
};

struct Reservation {
  std::string reservation_id;
  std::string sku_id;
  std::string user_id;
  std::int32_t quantity = 0;
  ReservationStatus status = ReservationStatus::kReserved;
  Time created_at{};
  Time expires_at{};
  Time updated_at{};
};

// A stored answer to a request carrying an Idempotency-Key, scoped to the user.
struct IdempotencyRecord {
  std::string user_id;
  std::string key;
  std::string request_fingerprint;  // what the request asked for, e.g. "reserve|sku|qty"
  std::int32_t http_status = 0;
  std::string response_body;
  Time created_at{};
};

std::string_view SaleStatusName(SaleStatus status);
std::string_view ReservationStatusName(ReservationStatus status);
std::optional<ReservationStatus> ReservationStatusFromInt(int value);

// Units of the reservation that count against stock as held.
bool IsHeld(ReservationStatus status);
// Units that count against the user's per-SKU limit (held or bought).
bool CountsTowardUserLimit(ReservationStatus status);
// The allowed state machine edges.
bool IsAllowedTransition(ReservationStatus from, ReservationStatus to);

}  // namespace fs::core
