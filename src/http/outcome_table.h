// The one table from results to HTTP: every business outcome enum and every operational
// Status the handlers can meet maps here to (HTTP status, stable error code, safe message).
// Adding an enumerator without a row fails the build (-Wswitch under -Werror).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "base/status.h"
#include "core/inventory.h"
#include "core/waiting_room.h"

namespace fs::http {

// Stable error codes of the public API (clients branch on these).
namespace code {
inline constexpr std::string_view kInvalidRequest = "INVALID_REQUEST";
inline constexpr std::string_view kUnauthenticated = "UNAUTHENTICATED";
inline constexpr std::string_view kNotFound = "NOT_FOUND";
inline constexpr std::string_view kMethodNotAllowed = "METHOD_NOT_ALLOWED";
inline constexpr std::string_view kPayloadTooLarge = "PAYLOAD_TOO_LARGE";
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";
inline constexpr std::string_view kSkuNotFound = "SKU_NOT_FOUND";
inline constexpr std::string_view kSkuExists = "SKU_EXISTS";
inline constexpr std::string_view kSoldOut = "SOLD_OUT";
inline constexpr std::string_view kLimitExceeded = "LIMIT_EXCEEDED";
inline constexpr std::string_view kSaleNotOpen = "SALE_NOT_OPEN";
inline constexpr std::string_view kSaleClosed = "SALE_CLOSED";
inline constexpr std::string_view kIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED";
inline constexpr std::string_view kReservationNotFound = "RESERVATION_NOT_FOUND";
inline constexpr std::string_view kReservationExpired = "RESERVATION_EXPIRED";
inline constexpr std::string_view kReservationNotActive = "RESERVATION_NOT_ACTIVE";
inline constexpr std::string_view kRateLimited = "RATE_LIMITED";
inline constexpr std::string_view kStockBelowCommitted = "STOCK_BELOW_COMMITTED";
inline constexpr std::string_view kOrderNotFound = "ORDER_NOT_FOUND";
inline constexpr std::string_view kOrderNotResolvable = "ORDER_NOT_RESOLVABLE";
inline constexpr std::string_view kQueuePassRequired = "QUEUE_PASS_REQUIRED";
inline constexpr std::string_view kQueuePassInvalid = "QUEUE_PASS_INVALID";
inline constexpr std::string_view kWaitingRoomDisabled = "WAITING_ROOM_DISABLED";
inline constexpr std::string_view kQueueNotOpen = "QUEUE_NOT_OPEN";
inline constexpr std::string_view kWaitingRoomFull = "WAITING_ROOM_FULL";
inline constexpr std::string_view kTicketNotFound = "TICKET_NOT_FOUND";
}  // namespace code

// error_code is empty for a success row; the handler then renders the resource itself.
struct HttpOutcome {
  unsigned status = 200;
  std::string_view error_code;
  std::string_view message;

  bool is_error() const { return !error_code.empty(); }
};

// kReplayed maps to 200 as a placeholder: the handler answers with the stored record's status.
HttpOutcome MapOutcome(core::ReserveOutcome outcome);
HttpOutcome MapOutcome(core::ReleaseOutcome outcome);
// kInvalid's message is generic; the handler shows CreateSaleResult::invalid_reason instead.
HttpOutcome MapOutcome(core::CreateSaleOutcome outcome);
HttpOutcome MapOutcome(core::AdminSaleOutcome outcome);
// kReplayed maps to 200 as a placeholder: the handler answers with the stored record's status.
HttpOutcome MapOutcome(core::CheckoutOutcome outcome);
HttpOutcome MapOutcome(core::ResolveOutcome outcome);
HttpOutcome MapOutcome(core::JoinOutcome outcome);
// Any non-ok Status from the engine is 503 (retry later): a failed or refused commit, a full
// inbox (kResourceExhausted), a stopped engine. REQUIRES: !status.ok().
HttpOutcome MapStatus(const base::Status& status);

}  // namespace fs::http
