// The changes one writer batch makes, in the order it made them. A store applies a batch's
// mutations in order inside one transaction; the database's own guards (CHECK constraints,
// triggers, unique keys) check them again. Append new kinds at the end of the variant.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/audit.h"
#include "core/order.h"
#include "core/queue_types.h"
#include "core/types.h"

namespace fs::core {

struct SaleCreated {
  Sale sale;
};

struct ReservationCreated {
  Reservation reservation;  // status is always kReserved
};

struct ReservationStatusChanged {
  std::string reservation_id;
  std::string sku_id;
  ReservationStatus from = ReservationStatus::kReserved;
  ReservationStatus to = ReservationStatus::kReserved;
  Time at{};
};

struct IdempotencyStored {
  IdempotencyRecord record;
};

// Deletes idempotency records created before `before` (kept at least 24 h).
struct IdempotencyPruned {
  Time before{};
};

// One audit event, already chained (id, prev_hash, event_hash set), stored in the same
// transaction as the change it records.
struct AuditAppended {
  AuditEvent event;
};

// An operator opened or closed a sale (skus.override_state).
struct SaleOverrideChanged {
  std::string sku_id;
  SaleOverride from = SaleOverride::kNone;
  SaleOverride to = SaleOverride::kNone;
};

// An operator changed a sale's total stock (never below held + sold).
struct SaleStockChanged {
  std::string sku_id;
  std::int64_t from = 0;
  std::int64_t to = 0;
};

// An operator changed what buyers read about a sale: its name and details (the whole new
// values; skus.name, description, image_url, category, tags).
struct SaleDetailsChanged {
  std::string sku_id;
  std::string name;
  SaleDetails details;
};

struct OrderCreated {
  Order order;  // status is always kPending
};

// The order moved from `from` to `order.status`; `order` is the whole row after the change.
struct OrderStatusChanged {
  OrderStatus from = OrderStatus::kPending;
  Order order;
};

// A transient gateway failure: the order stays PENDING with more attempts and a later time.
struct OrderRetryScheduled {
  std::string order_id;
  std::int32_t attempts = 0;
  Time next_attempt_at{};
  Time at{};
};

// A row of the transactional outbox, stored in the same transaction as its change.
struct EventAppended {
  OutboxEvent event;
};

// --- The fair waiting room ---
// A waiting-room sale's room, stored in the batch that created the sale.
struct WaitingRoomCreated {
  WaitingRoomRecord room;  // not drawn yet
};

struct QueueTicketIssued {
  QueueTicket ticket;  // not admitted yet
};

// The sale started: the room's first `prequeue_count` tickets were shuffled with `seed`.
struct WaitingRoomDrawn {
  std::string sku_id;
  std::uint64_t seed = 0;
  std::int64_t prequeue_count = 0;
  Time at{};
};

struct QueueTicketAdmitted {
  std::string sku_id;
  std::string ticket_id;
  Time admitted_at{};
  Time pass_expires_at{};
};

// The ticket's pass allowed `reservation_id` (a ReservationCreated earlier in the same batch).
struct QueuePassUsed {
  std::string sku_id;
  std::string ticket_id;
  std::string reservation_id;
  Time at{};
};

using Mutation =
    std::variant<SaleCreated, ReservationCreated, ReservationStatusChanged, IdempotencyStored,
                 IdempotencyPruned, AuditAppended, SaleOverrideChanged, SaleStockChanged,
                 OrderCreated, OrderStatusChanged, OrderRetryScheduled, EventAppended,
                 WaitingRoomCreated, QueueTicketIssued, WaitingRoomDrawn, QueueTicketAdmitted,
                 QueuePassUsed, SaleDetailsChanged>;
using Mutations = std::vector<Mutation>;

}  // namespace fs::core
