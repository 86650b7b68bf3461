// The name of each mutation type, as every store names it in an error ("mutation 3
// (ReservationCreated): ..."), by the variant's index.
// Thread-safety: constants.
#pragma once

#include <array>
#include <string_view>
#include <variant>

#include "core/mutation.h"

namespace fs::store {

inline constexpr std::array<std::string_view, 18> kMutationNames = {
    "SaleCreated",        "ReservationCreated", "ReservationStatusChanged", "IdempotencyStored",
    "IdempotencyPruned",  "AuditAppended",      "SaleOverrideChanged",      "SaleStockChanged",
    "OrderCreated",       "OrderStatusChanged", "OrderRetryScheduled",      "EventAppended",
    "WaitingRoomCreated", "QueueTicketIssued",  "WaitingRoomDrawn",         "QueueTicketAdmitted",
    "QueuePassUsed",      "SaleDetailsChanged"};
static_assert(std::variant_size_v<core::Mutation> == kMutationNames.size(),
              "every mutation type needs its name here");

inline std::string_view MutationName(const core::Mutation& mutation) {
  return kMutationNames[mutation.index()];
}

}  // namespace fs::store
