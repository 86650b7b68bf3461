#include "store/memory/memory_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <variant>

#include "store/mutation_name.h"

namespace fs::store {
namespace {

using Key = std::pair<std::string, std::string>;

struct SaleRow {
  core::Sale sale;
  std::int64_t held = 0;  // units in RESERVED and CHECKOUT_PENDING reservations
  std::int64_t sold = 0;  // units in PURCHASED reservations
};

struct IdempotencyRow {
  core::IdempotencyRecord record;
  std::uint64_t sequence = 0;  // insertion order, the tie-break of Load's order
};

base::Status Refused(const std::string& message) { return base::Internal(message); }

base::Status MatchedNoRow(const std::string& context, const std::string& hint = "") {
  return Refused(context + ": matched 0 rows" + hint);
}

bool Holds(core::ReservationStatus status) {
  return status == core::ReservationStatus::kReserved ||
         status == core::ReservationStatus::kCheckoutPending;
}

// The reservation state machine's edges (the schema's reservations_status_counts trigger).
bool LegalReservationEdge(core::ReservationStatus from, core::ReservationStatus to) {
  using S = core::ReservationStatus;
  if (from == S::kReserved)
    return to == S::kCheckoutPending || to == S::kExpired || to == S::kReleased;
  if (from == S::kCheckoutPending) return to == S::kPurchased || to == S::kReleased;
  return false;
}

// The order state machine's edges (orders_status_guard).
bool LegalOrderEdge(core::OrderStatus from, core::OrderStatus to) {
  using S = core::OrderStatus;
  if (from == to) return true;  // an update that keeps the status (attempts, reason)
  if (from == S::kPending) return to == S::kPaid || to == S::kFailed || to == S::kNeedsAttention;
  if (from == S::kNeedsAttention) return to == S::kPaid || to == S::kFailed;
  return false;
}

}  // namespace

struct MemoryStore::State {
  std::map<std::string, SaleRow> sales;
  std::vector<std::string> sale_order;
  std::map<std::string, core::Reservation> reservations;
  std::vector<std::string> reservation_order;
  std::map<Key, std::int64_t> user_units;  // (sku, user) -> units reserved or bought
  std::map<Key, IdempotencyRow> idempotency;
  std::uint64_t idempotency_sequence = 0;
  std::set<std::int64_t> audit_ids;
  core::AuditHead audit_head;
  std::map<std::string, core::Order> orders;
  std::vector<std::string> order_order;
  std::map<std::string, std::string> order_of_reservation;
  std::map<std::string, std::int64_t> event_sequences;  // sku -> last outbox sequence
  std::map<std::string, core::WaitingRoomRecord> rooms;
  std::map<std::string, core::QueueTicket> tickets;   // by ticket id
  std::map<Key, std::string> ticket_of_user;          // (sku, user) -> ticket id
  std::map<std::string, std::int64_t> last_join_seq;  // sku -> last join_seq

  base::Status Apply(const core::SaleCreated& m);
  base::Status Apply(const core::ReservationCreated& m);
  base::Status Apply(const core::ReservationStatusChanged& m);
  base::Status Apply(const core::IdempotencyStored& m);
  base::Status Apply(const core::IdempotencyPruned& m);
  base::Status Apply(const core::AuditAppended& m);
  base::Status Apply(const core::SaleOverrideChanged& m);
  base::Status Apply(const core::SaleStockChanged& m);
  base::Status Apply(const core::OrderCreated& m);
  base::Status Apply(const core::OrderStatusChanged& m);
  base::Status Apply(const core::OrderRetryScheduled& m);
  base::Status Apply(const core::EventAppended& m);
  base::Status Apply(const core::WaitingRoomCreated& m);
  base::Status Apply(const core::QueueTicketIssued& m);
  base::Status Apply(const core::WaitingRoomDrawn& m);
  base::Status Apply(const core::QueueTicketAdmitted& m);
  base::Status Apply(const core::QueuePassUsed& m);
  base::Status Apply(const core::SaleDetailsChanged& m);
};

// --- Sales and reservations ---------------------------------------------------------------

base::Status MemoryStore::State::Apply(const core::SaleCreated& m) {
  const core::Sale& sale = m.sale;
  const std::string context = "insert sale '" + sale.sku_id + "'";
  if (sale.sku_id.empty() || sale.sku_id.size() > 64 || sale.name.empty() ||
      sale.currency.size() != 3 || sale.price_cents < 0 || sale.total_stock < 0 ||
      sale.per_user_limit < 1 || sale.reservation_ttl_seconds < 1) {
    return Refused(context + ": CHECK constraint failed");
  }
  if (sale.starts_at && sale.ends_at && *sale.ends_at <= *sale.starts_at) {
    return Refused(context + ": CHECK constraint failed: ends_after_start");
  }
  if (sales.count(sale.sku_id) > 0) return Refused(context + ": UNIQUE constraint failed");
  SaleRow row;
  row.sale = sale;
  // Not a column of the schema: a loaded sale has the default, as from the databases.
  row.sale.waiting_room = core::Sale().waiting_room;
  sales.emplace(sale.sku_id, std::move(row));
  sale_order.push_back(sale.sku_id);
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::ReservationCreated& m) {
  const core::Reservation& reservation = m.reservation;
  const std::string context = "insert reservation '" + reservation.reservation_id + "'";
  if (reservation.reservation_id.empty() || reservation.user_id.empty() ||
      reservation.quantity < 1 || reservation.expires_at < reservation.created_at) {
    return Refused(context + ": CHECK constraint failed");
  }
  if (reservations.count(reservation.reservation_id) > 0) {
    return Refused(context + ": UNIQUE constraint failed");
  }
  if (reservation.status != core::ReservationStatus::kReserved) {
    return Refused(context + ": a reservation must be created RESERVED");
  }
  auto sale = sales.find(reservation.sku_id);
  if (sale == sales.end()) return Refused(context + ": reservation for an unknown sku");
  SaleRow& row = sale->second;
  if (row.held + reservation.quantity + row.sold > row.sale.total_stock) {
    return Refused(context + ": CHECK constraint failed: no_oversell");
  }
  std::int64_t& units = user_units[{reservation.sku_id, reservation.user_id}];
  if (units + reservation.quantity > row.sale.per_user_limit) {
    return Refused(context + ": per-user limit exceeded");
  }
  units += reservation.quantity;
  row.held += reservation.quantity;
  reservations.emplace(reservation.reservation_id, reservation);
  reservation_order.push_back(reservation.reservation_id);
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::ReservationStatusChanged& m) {
  const std::string context = "reservation '" + m.reservation_id + "' " +
                              std::string(core::ReservationStatusName(m.from)) + " -> " +
                              std::string(core::ReservationStatusName(m.to));
  auto found = reservations.find(m.reservation_id);
  if (found == reservations.end() || found->second.sku_id != m.sku_id ||
      found->second.status != m.from) {
    return MatchedNoRow(context, " (unknown id, other sku, or status is not '" +
                                     std::string(core::ReservationStatusName(m.from)) + "')");
  }
  core::Reservation& reservation = found->second;
  if (!LegalReservationEdge(m.from, m.to)) {
    return Refused(context + ": illegal reservation status transition");
  }
  // A reservation whose checkout created an order follows that order (reservations_follow_order).
  if (m.from == core::ReservationStatus::kCheckoutPending) {
    auto order_id = order_of_reservation.find(m.reservation_id);
    if (order_id != order_of_reservation.end()) {
      const core::OrderStatus order_status = orders.at(order_id->second).status;
      if (m.to == core::ReservationStatus::kPurchased && order_status != core::OrderStatus::kPaid) {
        return Refused(context + ": a reservation in checkout is purchased only by a PAID order");
      }
      if (m.to == core::ReservationStatus::kReleased &&
          order_status != core::OrderStatus::kFailed) {
        return Refused(context + ": a reservation in checkout is released only by a FAILED order");
      }
    }
  }
  SaleRow& sale = sales.at(reservation.sku_id);
  if (Holds(m.from)) sale.held -= reservation.quantity;
  if (Holds(m.to)) sale.held += reservation.quantity;
  if (m.to == core::ReservationStatus::kPurchased) sale.sold += reservation.quantity;
  if (m.to == core::ReservationStatus::kExpired || m.to == core::ReservationStatus::kReleased) {
    user_units[{reservation.sku_id, reservation.user_id}] -= reservation.quantity;
  }
  reservation.status = m.to;
  reservation.updated_at = m.at;
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::SaleOverrideChanged& m) {
  auto sale = sales.find(m.sku_id);
  if (sale == sales.end() || sale->second.sale.override_state != m.from) {
    return MatchedNoRow("override of sale '" + m.sku_id + "'");
  }
  sale->second.sale.override_state = m.to;
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::SaleDetailsChanged& m) {
  auto sale = sales.find(m.sku_id);
  if (sale == sales.end()) return MatchedNoRow("details of sale '" + m.sku_id + "'");
  sale->second.sale.name = m.name;
  sale->second.sale.details = m.details;
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::SaleStockChanged& m) {
  const std::string context = "total_stock of sale '" + m.sku_id + "'";
  auto sale = sales.find(m.sku_id);
  if (sale == sales.end() || sale->second.sale.total_stock != m.from) {
    return MatchedNoRow(context);
  }
  SaleRow& row = sale->second;
  if (m.to < 0) return Refused(context + ": CHECK constraint failed");
  if (row.held + row.sold > m.to)
    return Refused(context + ": CHECK constraint failed: no_oversell");
  row.sale.total_stock = m.to;
  return base::Status::Ok();
}

// --- Idempotency, audit and outbox ----------------------------------------------------------

base::Status MemoryStore::State::Apply(const core::IdempotencyStored& m) {
  const core::IdempotencyRecord& record = m.record;
  if (record.key.empty() || record.http_status < 100 || record.http_status > 599) {
    return Refused("insert idempotency key: CHECK constraint failed");
  }
  const Key key{record.user_id, record.key};
  if (idempotency.count(key) > 0)
    return Refused("insert idempotency key: UNIQUE constraint failed");
  idempotency.emplace(key, IdempotencyRow{record, ++idempotency_sequence});
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::IdempotencyPruned& m) {
  std::erase_if(idempotency,
                [&](const auto& entry) { return entry.second.record.created_at < m.before; });
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::AuditAppended& m) {
  const core::AuditEvent& event = m.event;
  const std::string context = "event " + std::to_string(event.event_id);
  std::string bytes;
  if (!core::AppendHashBytes(event.prev_hash, bytes) ||
      !core::AppendHashBytes(event.event_hash, bytes)) {
    return Refused(context + ": a hash is not 64 lower-case hex characters");
  }
  if (!audit_ids.insert(event.event_id).second) {
    return Refused(context + ": insert audit event: UNIQUE constraint failed");
  }
  if (event.event_id >= audit_head.event_id) {
    audit_head.event_id = event.event_id;
    audit_head.event_hash = event.event_hash;
  }
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::EventAppended& m) {
  const core::OutboxEvent& event = m.event;
  const std::string context = "event '" + event.event_id + "': insert event";
  if (event.event_id != event.sku_id + ":" + std::to_string(event.sequence)) {
    return Refused("insert event '" + event.event_id + "': event_id is not <sku>:<seq>");
  }
  if (event.type.empty() || event.sequence < 1)
    return Refused(context + ": CHECK constraint failed");
  if (sales.count(event.sku_id) == 0) return Refused(context + ": FOREIGN KEY constraint failed");
  // The payload's JSON is not validated here (the databases do): the model trusts the writer's
  // renderer, which tests cover on their own.
  std::int64_t& last = event_sequences[event.sku_id];
  if (event.sequence != last + 1) {
    return Refused(context + ": outbox sequence of a sku must grow by exactly one");
  }
  last = event.sequence;
  return base::Status::Ok();
}

// --- Orders ---------------------------------------------------------------------------------

base::Status MemoryStore::State::Apply(const core::OrderCreated& m) {
  const core::Order& order = m.order;
  const std::string context = "insert order '" + order.order_id + "'";
  if (order.order_id.empty() || order.user_id.empty() || order.quantity < 1 ||
      order.amount_cents < 0 || order.currency.size() != 3 || order.payment_method_id.empty() ||
      order.attempts < 0) {
    return Refused(context + ": CHECK constraint failed");
  }
  if (orders.count(order.order_id) > 0 || order_of_reservation.count(order.reservation_id) > 0) {
    return Refused(context + ": UNIQUE constraint failed");
  }
  if (order.status != core::OrderStatus::kPending) {
    return Refused(context + ": an order must be created PENDING");
  }
  auto reservation = reservations.find(order.reservation_id);
  if (reservation == reservations.end() ||
      reservation->second.status != core::ReservationStatus::kCheckoutPending ||
      reservation->second.sku_id != order.sku_id || reservation->second.user_id != order.user_id ||
      reservation->second.quantity != order.quantity) {
    return Refused(context + ": an order needs its reservation in CHECKOUT_PENDING");
  }
  if (order.amount_cents != sales.at(order.sku_id).sale.price_cents * order.quantity) {
    return Refused(context + ": order amount must be price x quantity");
  }
  orders.emplace(order.order_id, order);
  order_order.push_back(order.order_id);
  order_of_reservation.emplace(order.reservation_id, order.order_id);
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::OrderStatusChanged& m) {
  const core::Order& order = m.order;
  const std::string context = "order '" + order.order_id + "' " +
                              std::string(core::OrderStatusName(m.from)) + " -> " +
                              std::string(core::OrderStatusName(order.status));
  auto found = orders.find(order.order_id);
  if (found == orders.end() || found->second.status != m.from) return MatchedNoRow(context);
  core::Order& stored = found->second;
  if (!LegalOrderEdge(m.from, order.status)) {
    return Refused(context + ": illegal order status transition");
  }
  stored.status = order.status;
  stored.failure_reason = order.failure_reason;
  stored.attempts = order.attempts;
  stored.next_attempt_at = order.next_attempt_at;
  stored.updated_at = order.updated_at;
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::OrderRetryScheduled& m) {
  auto found = orders.find(m.order_id);
  if (found == orders.end() || found->second.status != core::OrderStatus::kPending ||
      found->second.attempts >= m.attempts) {
    return MatchedNoRow("order '" + m.order_id + "' retry",
                        " (unknown id, not PENDING, or attempts not growing)");
  }
  found->second.attempts = m.attempts;
  found->second.next_attempt_at = m.next_attempt_at;
  found->second.updated_at = m.at;
  return base::Status::Ok();
}

// --- The fair waiting room ----------------------------------------------------------------

base::Status MemoryStore::State::Apply(const core::WaitingRoomCreated& m) {
  const std::string context = "insert waiting room '" + m.room.sku_id + "'";
  if (sales.count(m.room.sku_id) == 0) return Refused(context + ": FOREIGN KEY constraint failed");
  if (rooms.count(m.room.sku_id) > 0) return Refused(context + ": UNIQUE constraint failed");
  core::WaitingRoomRecord room;  // not drawn yet, whatever the record says
  room.sku_id = m.room.sku_id;
  room.created_at = m.room.created_at;
  rooms.emplace(room.sku_id, std::move(room));
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::QueueTicketIssued& m) {
  const core::QueueTicket& ticket = m.ticket;
  const std::string context = "insert queue ticket of '" + ticket.sku_id + "'";
  if (rooms.count(ticket.sku_id) == 0) return Refused(context + ": FOREIGN KEY constraint failed");
  if (ticket.ticket_id.empty() || ticket.user_id.empty() || ticket.join_seq < 1) {
    return Refused(context + ": CHECK constraint failed");
  }
  const Key user{ticket.sku_id, ticket.user_id};
  if (tickets.count(ticket.ticket_id) > 0 || ticket_of_user.count(user) > 0) {
    return Refused(context + ": UNIQUE constraint failed");
  }
  std::int64_t& last = last_join_seq[ticket.sku_id];
  if (ticket.join_seq != last + 1) {
    return Refused(context + ": join_seq of a room must grow by exactly one");
  }
  last = ticket.join_seq;
  core::QueueTicket stored;  // not admitted yet
  stored.ticket_id = ticket.ticket_id;
  stored.sku_id = ticket.sku_id;
  stored.user_id = ticket.user_id;
  stored.join_seq = ticket.join_seq;
  stored.joined_at = ticket.joined_at;
  tickets.emplace(stored.ticket_id, std::move(stored));
  ticket_of_user.emplace(user, ticket.ticket_id);
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::WaitingRoomDrawn& m) {
  const std::string context = "draw of waiting room '" + m.sku_id + "'";
  auto room = rooms.find(m.sku_id);
  if (room == rooms.end() || room->second.draw_seed.has_value()) return MatchedNoRow(context);
  const auto joined = last_join_seq.find(m.sku_id);
  const std::int64_t ticket_count = joined == last_join_seq.end() ? 0 : joined->second;
  if (m.prequeue_count != ticket_count) {
    return Refused(context + ": the draw must shuffle every ticket that joined before it");
  }
  room->second.draw_seed = m.seed;
  room->second.prequeue_count = m.prequeue_count;
  room->second.drawn_at = m.at;
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::QueueTicketAdmitted& m) {
  auto ticket = tickets.find(m.ticket_id);
  if (ticket == tickets.end() || ticket->second.sku_id != m.sku_id ||
      ticket->second.admitted_at.has_value()) {
    return MatchedNoRow("admission of a ticket of '" + m.sku_id + "'");
  }
  ticket->second.admitted_at = m.admitted_at;
  ticket->second.pass_expires_at = m.pass_expires_at;
  return base::Status::Ok();
}

base::Status MemoryStore::State::Apply(const core::QueuePassUsed& m) {
  const std::string context = "use of a queue pass of '" + m.sku_id + "'";
  auto ticket = tickets.find(m.ticket_id);
  if (ticket == tickets.end() || ticket->second.sku_id != m.sku_id ||
      ticket->second.used_reservation_id.has_value()) {
    return MatchedNoRow(context);
  }
  core::QueueTicket& stored = ticket->second;
  auto reservation = reservations.find(m.reservation_id);
  if (reservation == reservations.end() || reservation->second.sku_id != stored.sku_id ||
      reservation->second.user_id != stored.user_id) {
    return Refused(context +
                   ": a queue pass is used once, for its holder's reservation in its sale");
  }
  if (!stored.admitted_at || !(m.at < *stored.pass_expires_at)) {
    return Refused(context + ": CHECK constraint failed: used_after_admission");
  }
  stored.used_reservation_id = m.reservation_id;
  stored.used_at = m.at;
  return base::Status::Ok();
}

// --- The Store interface --------------------------------------------------------------------

MemoryStore::MemoryStore() : state_(std::make_unique<State>()) {}

MemoryStore::~MemoryStore() = default;

base::Status MemoryStore::Commit(const core::Mutations& mutations) {
  if (mutations.empty()) return base::Status::Ok();
  auto next = std::make_unique<State>(*state_);
  for (std::size_t index = 0; index < mutations.size(); ++index) {
    const core::Mutation& mutation = mutations[index];
    const base::Status status =
        std::visit([&](const auto& typed) { return next->Apply(typed); }, mutation);
    if (!status.ok()) {
      return base::Status(status.code(), "mutation " + std::to_string(index) + " (" +
                                             std::string(MutationName(mutation)) +
                                             "): " + status.message());
    }
  }
  state_ = std::move(next);
  return base::Status::Ok();
}

base::Result<LoadedState> MemoryStore::Load(base::Time idempotency_since) {
  const State& state = *state_;
  LoadedState loaded;
  for (const std::string& sku_id : state.sale_order)
    loaded.sales.push_back(state.sales.at(sku_id).sale);
  // Only what the writer decides with, as the database stores load it.
  for (const std::string& id : state.reservation_order) {
    const core::Reservation& reservation = state.reservations.at(id);
    if (core::IsHeld(reservation.status)) loaded.reservations.push_back(reservation);
  }
  for (const auto& [sku_id, row] : state.sales) {
    loaded.counters.push_back(StoredCounters{sku_id, row.sale.total_stock, row.held, row.sold});
  }
  for (const auto& [key, units] : state.user_units) {
    if (units > 0) {
      loaded.user_units.push_back({key.first, key.second, static_cast<std::int32_t>(units)});
    }
  }
  std::vector<const IdempotencyRow*> records;
  for (const auto& [key, row] : state.idempotency) {
    if (row.record.created_at >= idempotency_since) records.push_back(&row);
  }
  std::sort(records.begin(), records.end(), [](const IdempotencyRow* a, const IdempotencyRow* b) {
    if (a->record.created_at != b->record.created_at) {
      return a->record.created_at < b->record.created_at;
    }
    return a->sequence < b->sequence;
  });
  for (const IdempotencyRow* row : records) loaded.idempotency.push_back(row->record);
  loaded.audit_head = state.audit_head;
  for (const std::string& id : state.order_order) {
    const core::Order& order = state.orders.at(id);
    if (order.status == core::OrderStatus::kPending ||
        order.status == core::OrderStatus::kNeedsAttention) {
      loaded.orders.push_back(order);
    }
  }
  for (const auto& [sku_id, sequence] : state.event_sequences) {
    loaded.event_sequences.emplace_back(sku_id, sequence);
  }
  for (const auto& [sku_id, room] : state.rooms) loaded.waiting_rooms.push_back(room);
  std::vector<core::QueueTicket> tickets;
  for (const auto& [id, ticket] : state.tickets) tickets.push_back(ticket);
  std::sort(tickets.begin(), tickets.end(),
            [](const core::QueueTicket& a, const core::QueueTicket& b) {
              return a.sku_id != b.sku_id ? a.sku_id < b.sku_id : a.join_seq < b.join_seq;
            });
  loaded.queue_tickets = std::move(tickets);
  return loaded;
}

base::Result<std::vector<StoredCounters>> MemoryStore::ReadCounters() {
  std::vector<StoredCounters> counters;
  for (const auto& [sku_id, row] : state_->sales) {
    counters.push_back(StoredCounters{sku_id, row.sale.total_stock, row.held, row.sold});
  }
  return counters;
}

}  // namespace fs::store
