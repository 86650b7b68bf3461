#include "core/types.h"

namespace fs::core {

std::string_view SaleStatusName(SaleStatus status) {
  switch (status) {
    case SaleStatus::kScheduled:
      return "SCHEDULED";
    case SaleStatus::kOpen:
      return "OPEN";
    case SaleStatus::kSoldOut:
      return "SOLD_OUT";
    case SaleStatus::kClosed:
      return "CLOSED";
  }
  return "UNKNOWN";
}

std::string_view ReservationStatusName(ReservationStatus status) {
  switch (status) {
    case ReservationStatus::kReserved:
      return "RESERVED";
    case ReservationStatus::kCheckoutPending:
      return "CHECKOUT_PENDING";
    case ReservationStatus::kPurchased:
      return "PURCHASED";
    case ReservationStatus::kExpired:
      return "EXPIRED";
    case ReservationStatus::kReleased:
      return "RELEASED";
  }
  return "UNKNOWN";
}

std::optional<ReservationStatus> ReservationStatusFromInt(int value) {
  if (value < 1 || value > 5) return std::nullopt;
  return static_cast<ReservationStatus>(value);
}

bool IsHeld(ReservationStatus status) {
  return status == ReservationStatus::kReserved || status == ReservationStatus::kCheckoutPending;
}

bool CountsTowardUserLimit(ReservationStatus status) {
  return IsHeld(status) || status == ReservationStatus::kPurchased;
}

bool IsAllowedTransition(ReservationStatus from, ReservationStatus to) {
  using S = ReservationStatus;
  switch (from) {
    case S::kReserved:
      return to == S::kCheckoutPending || to == S::kExpired || to == S::kReleased;
    case S::kCheckoutPending:
      return to == S::kPurchased || to == S::kReleased;
    case S::kPurchased:
    case S::kExpired:
    case S::kReleased:
      return false;
  }
  return false;
}

}  // namespace fs::core
