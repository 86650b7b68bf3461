// Journal: one writer batch's changes, for the store and for rollback. Every part of the
// ledger (ledger.h) records here, in the order it changes memory:
//   - a Mutation per stored change, which the store applies in order in one transaction, and
//   - an undo entry per changed piece of memory, applied newest first by Rollback() so a batch
//     whose commit failed leaves memory exactly as it was.
// An undo entry names its owner and a plain-data change (namespace undo); the owner's undo
// function restores it. The journal knows no part, so parts depend on it and not the reverse.
//
// Thread-safety: none; owned with its ledger by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/check.h"
#include "core/audit.h"
#include "core/mutation.h"
#include "core/order.h"
#include "core/types.h"

namespace fs::core {

// What each part's undo entries restore. Plain data.
namespace undo {

// --- Sales (sales.h)
struct SaleCreated {
  std::string sku_id;
};
struct SaleChanged {
  Sale previous;
};
struct Counters {
  std::string sku_id;
  StockCounters previous;
};
struct UserUnits {
  std::string sku_id;
  std::string user_id;
  std::int32_t previous = 0;
};
struct EventSequence {
  std::string sku_id;
  std::int64_t previous = 0;
};
// --- Reservations and idempotency keys (reservations.h)
struct ReservationChanged {
  std::string reservation_id;
  std::optional<Reservation> previous;  // nullopt: created in this batch
};
struct IdempotencyStored {
  std::string map_key;
};
// --- Orders (orders.h)
struct OrderChanged {
  std::string order_id;
  std::optional<Order> previous;  // nullopt: created in this batch
};
// --- The audit chain (audit_chain.h)
struct AuditHeadMoved {
  AuditHead previous;
};
// --- Waiting rooms (waiting_room.h)
struct RoomCreated {
  std::string sku_id;
};
struct TicketJoined {};
struct RoomDrawn {};
struct TicketAdmitted {};
struct PassExpired {
  Time expires_at{};
  std::size_t index = 0;
};
struct PassUsed {
  std::size_t index = 0;
};
struct Tokens {
  std::int64_t tokens_milli = 0;
  Time refilled_at{};
};
struct SoldOutChanged {
  bool sold_out = false;
  std::int64_t notified_total = 0;
};

using Change =
    std::variant<SaleCreated, SaleChanged, Counters, UserUnits, EventSequence, ReservationChanged,
                 IdempotencyStored, OrderChanged, AuditHeadMoved, RoomCreated, TicketJoined,
                 RoomDrawn, TicketAdmitted, PassExpired, PassUsed, Tokens, SoldOutChanged>;

}  // namespace undo

class Journal {
 public:
  // Restores `change` in `owner` (the part that recorded it).
  using UndoFunction = void (*)(void* owner, undo::Change& change);

  Journal() = default;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void Begin() {
    FS_CHECK(!in_batch_);
    in_batch_ = true;
    ++batch_number_;
  }
  // Keeps the batch's changes. Returns the sku ids whose published state changed, sorted.
  std::vector<std::string> Commit();
  // Applies every undo entry, newest first, and forgets the batch's mutations.
  void Rollback();

  bool in_batch() const { return in_batch_; }
  // Counts batches begun: a part can tell whether it already recorded something this batch.
  std::uint64_t batch_number() const { return batch_number_; }

  void Add(Mutation mutation) { mutations_.push_back(std::move(mutation)); }
  void Record(void* owner, UndoFunction function, undo::Change change) {
    undo_.push_back(Entry{owner, function, std::move(change)});
  }
  // The sale's published state (snapshot, availability) changed in this batch.
  void Touch(const std::string& sku_id) { touched_skus_.push_back(sku_id); }

  // The batch's changes, in order, for the store.
  const Mutations& mutations() const { return mutations_; }

 private:
  struct Entry {
    void* owner;
    UndoFunction function;
    undo::Change change;
  };
  void Clear();

  bool in_batch_ = false;
  std::uint64_t batch_number_ = 0;
  Mutations mutations_;
  std::vector<Entry> undo_;
  std::vector<std::string> touched_skus_;
};

}  // namespace fs::core
