#include "http/outcome_table.h"

namespace fs::http {

HttpOutcome MapOutcome(core::ReserveOutcome outcome) {
  using O = core::ReserveOutcome;
  switch (outcome) {
    case O::kReserved:
      return {201, {}, {}};
    case O::kReplayed:
      return {200, {}, {}};
    case O::kIdempotencyKeyReused:
      return {422, code::kIdempotencyKeyReused,
              "this Idempotency-Key was already used with different request parameters"};
    case O::kSkuNotFound:
      return {404, code::kSkuNotFound, "no sale with this sku_id"};
    case O::kSoldOut:
      return {409, code::kSoldOut, "not enough units left"};
    case O::kLimitExceeded:
      return {409, code::kLimitExceeded, "this would exceed the per-user limit of the sale"};
    case O::kSaleNotOpen:
      return {409, code::kSaleNotOpen, "the sale has not started yet"};
    case O::kSaleClosed:
      return {409, code::kSaleClosed, "the sale has ended"};
    case O::kQueuePassRequired:
      return {403, code::kQueuePassRequired,
              "this sale has a waiting room: join its queue and reserve with the pass it gives"};
    case O::kQueuePassInvalid:
      return {403, code::kQueuePassInvalid,
              "the queue pass is not valid (forged, another user's or sale's, expired or used)"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapOutcome(core::ReleaseOutcome outcome) {
  using O = core::ReleaseOutcome;
  switch (outcome) {
    case O::kReleased:
      return {200, {}, {}};
    case O::kAlreadyReleased:
      return {200, {}, {}};
    case O::kNotFound:
      return {404, code::kReservationNotFound, "no such reservation"};
    case O::kExpired:
      return {409, code::kReservationExpired, "the reservation has expired"};
    case O::kNotActive:
      return {409, code::kReservationNotActive,
              "the reservation is in checkout or purchased and cannot be released"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapOutcome(core::CreateSaleOutcome outcome) {
  using O = core::CreateSaleOutcome;
  switch (outcome) {
    case O::kCreated:
      return {201, {}, {}};
    case O::kAlreadyExists:
      return {409, code::kSkuExists, "a sale with this sku_id exists"};
    case O::kInvalid:
      return {400, code::kInvalidRequest, "invalid sale"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapOutcome(core::AdminSaleOutcome outcome) {
  using O = core::AdminSaleOutcome;
  switch (outcome) {
    case O::kChanged:
      return {200, {}, {}};
    case O::kSkuNotFound:
      return {404, code::kSkuNotFound, "no sale with this sku_id"};
    case O::kStockBelowCommitted:
      return {409, code::kStockBelowCommitted,
              "total_stock cannot go below the units held plus sold"};
    case O::kStockOutOfRange:
      return {400, code::kInvalidRequest, "total_stock must stay between 0 and 1000000000"};
    case O::kInvalidDetails:
      return {400, code::kInvalidRequest, "the sale's name or details break a rule"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapOutcome(core::CheckoutOutcome outcome) {
  using O = core::CheckoutOutcome;
  switch (outcome) {
    case O::kCreated:
      return {202, {}, {}};
    case O::kReplayed:
      return {200, {}, {}};
    case O::kIdempotencyKeyReused:
      return {422, code::kIdempotencyKeyReused,
              "this Idempotency-Key was already used with different request parameters"};
    case O::kReservationNotFound:
      return {404, code::kReservationNotFound, "no such reservation"};
    case O::kReservationExpired:
      return {409, code::kReservationExpired, "the reservation has expired"};
    case O::kReservationNotActive:
      return {409, code::kReservationNotActive,
              "the reservation is already in checkout, purchased or released"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapOutcome(core::ResolveOutcome outcome) {
  using O = core::ResolveOutcome;
  switch (outcome) {
    case O::kResolved:
      return {200, {}, {}};
    case O::kOrderNotFound:
      return {404, code::kOrderNotFound, "no such order"};
    case O::kNotNeedsAttention:
      return {409, code::kOrderNotResolvable, "only NEEDS_ATTENTION orders can be resolved"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapOutcome(core::JoinOutcome outcome) {
  using O = core::JoinOutcome;
  switch (outcome) {
    case O::kJoined:
      return {201, {}, {}};
    case O::kAlreadyJoined:
      return {200, {}, {}};
    case O::kSkuNotFound:
      return {404, code::kSkuNotFound, "no sale with this sku_id"};
    case O::kNoWaitingRoom:
      return {409, code::kWaitingRoomDisabled, "this sale has no waiting room: reserve directly"};
    case O::kNotOpenYet:
      return {409, code::kQueueNotOpen, "the waiting room of this sale has not opened yet"};
    case O::kSaleClosed:
      return {409, code::kSaleClosed, "the sale has ended"};
    case O::kRoomFull:
      return {503, code::kWaitingRoomFull, "the waiting room is full; retry shortly"};
  }
  base::CheckFailed("outcome out of range", __FILE__, __LINE__);
}

HttpOutcome MapStatus(const base::Status& status) {
  FS_CHECK(!status.ok());
  if (status.code() == base::StatusCode::kResourceExhausted) {
    return {503, code::kUnavailable, "the server is busy; retry shortly"};
  }
  if (status.code() == base::StatusCode::kInvalidArgument) {
    // The store refused a value of this command alone (engine::Reply); nothing was changed.
    return {400, code::kInvalidRequest, "the request carries a value the store refuses"};
  }
  return {503, code::kUnavailable, "temporarily unavailable; retry shortly"};
}

}  // namespace fs::http
