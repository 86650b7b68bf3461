#include "core/inventory.h"

namespace fs::core {

std::string_view CheckoutOutcomeName(CheckoutOutcome outcome) {
  switch (outcome) {
    case CheckoutOutcome::kCreated:
      return "CREATED";
    case CheckoutOutcome::kReplayed:
      return "REPLAYED";
    case CheckoutOutcome::kIdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case CheckoutOutcome::kReservationNotFound:
      return "RESERVATION_NOT_FOUND";
    case CheckoutOutcome::kReservationExpired:
      return "RESERVATION_EXPIRED";
    case CheckoutOutcome::kReservationNotActive:
      return "RESERVATION_NOT_ACTIVE";
  }
  return "UNKNOWN";
}

std::string_view ReserveOutcomeName(ReserveOutcome outcome) {
  switch (outcome) {
    case ReserveOutcome::kReserved:
      return "RESERVED";
    case ReserveOutcome::kReplayed:
      return "REPLAYED";
    case ReserveOutcome::kIdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case ReserveOutcome::kSkuNotFound:
      return "SKU_NOT_FOUND";
    case ReserveOutcome::kSoldOut:
      return "SOLD_OUT";
    case ReserveOutcome::kLimitExceeded:
      return "LIMIT_EXCEEDED";
    case ReserveOutcome::kSaleNotOpen:
      return "SALE_NOT_OPEN";
    case ReserveOutcome::kSaleClosed:
      return "SALE_CLOSED";
    case ReserveOutcome::kQueuePassRequired:
      return "QUEUE_PASS_REQUIRED";
    case ReserveOutcome::kQueuePassInvalid:
      return "QUEUE_PASS_INVALID";
  }
  return "UNKNOWN";
}

}  // namespace fs::core
