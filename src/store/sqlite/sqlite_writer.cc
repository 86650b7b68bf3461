#include "store/sqlite/sqlite_writer.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <utility>

#include "core/rules.h"

namespace fs::store::sqlite {
namespace {

// Whether a mutation's statement must change exactly one row: a guarded UPDATE (expected old
// value in its WHERE) that matches nothing means the writer's memory and the file disagree.
enum class RowCount : std::uint8_t { kAny, kExactlyOne };

// One row per mutation type:
//   kSql, kRows;
//   Bind(binder, mutation, scratch): binds the values in order; a non-Ok Status refuses the
//     mutation before it reaches SQLite (a value the schema would not hold);
//   Context(mutation): the mutation as named in an error, built only on failure;
//   NoMatchHint(mutation) (optional, kExactlyOne rows): why an UPDATE may have matched nothing.
template <typename M>
struct MutationRow;

using core::ReservationStatusName;

// A sale's details as four nullable columns: description, image_url, category, tags.
void BindDetails(Binder& binder, const core::SaleDetails& details) {
  binder.NullableText(details.description)
      .NullableText(details.image_url)
      .NullableText(details.category)
      .NullableText(core::JoinTags(details.tags));
}

template <>
struct MutationRow<core::SaleCreated> {
  static constexpr const char* kSql =
      "INSERT INTO skus (sku_id, name, price_cents, currency, total_stock, per_user_limit,"
      " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms,"
      " description, image_url, category, tags)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::SaleCreated& m, std::string&) {
    const core::Sale& sale = m.sale;
    binder.Text(sale.sku_id)
        .Text(sale.name)
        .Int64(sale.price_cents)
        .Text(sale.currency)
        .Int64(sale.total_stock)
        .Int64(sale.per_user_limit)
        .Int64(sale.reservation_ttl_seconds)
        .OptionalTimeMs(sale.starts_at)
        .OptionalTimeMs(sale.ends_at)
        .Int64(static_cast<std::int64_t>(sale.override_state))
        .TimeMs(sale.created_at);
    BindDetails(binder, sale.details);
    return base::Status::Ok();
  }
  static std::string Context(const core::SaleCreated& m) {
    return "insert sale '" + m.sale.sku_id + "'";
  }
};

template <>
struct MutationRow<core::ReservationCreated> {
  static constexpr const char* kSql =
      "INSERT INTO reservations (reservation_id, sku_id, user_id, quantity, status,"
      " created_at_ms, expires_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::ReservationCreated& m, std::string&) {
    const core::Reservation& reservation = m.reservation;
    binder.Text(reservation.reservation_id)
        .Text(reservation.sku_id)
        .Text(reservation.user_id)
        .Int64(reservation.quantity)
        .Int64(static_cast<std::int64_t>(reservation.status))
        .TimeMs(reservation.created_at)
        .TimeMs(reservation.expires_at)
        .TimeMs(reservation.updated_at);
    return base::Status::Ok();
  }
  static std::string Context(const core::ReservationCreated& m) {
    return "insert reservation '" + m.reservation.reservation_id + "'";
  }
};

template <>
struct MutationRow<core::ReservationStatusChanged> {
  static constexpr const char* kSql =
      "UPDATE reservations SET status = ?1, updated_at_ms = ?2"
      " WHERE reservation_id = ?3 AND sku_id = ?4 AND status = ?5";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::ReservationStatusChanged& m, std::string&) {
    binder.Int64(static_cast<std::int64_t>(m.to))
        .TimeMs(m.at)
        .Text(m.reservation_id)
        .Text(m.sku_id)
        .Int64(static_cast<std::int64_t>(m.from));
    return base::Status::Ok();
  }
  static std::string Context(const core::ReservationStatusChanged& m) {
    return "reservation '" + m.reservation_id + "' " + std::string(ReservationStatusName(m.from)) +
           " -> " + std::string(ReservationStatusName(m.to));
  }
  static std::string NoMatchHint(const core::ReservationStatusChanged& m) {
    return " (unknown id, other sku, or status is not '" +
           std::string(ReservationStatusName(m.from)) + "')";
  }
};

template <>
struct MutationRow<core::IdempotencyStored> {
  static constexpr const char* kSql =
      "INSERT INTO idempotency_keys (user_id, idem_key, request_fingerprint, http_status,"
      " response_body, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::IdempotencyStored& m, std::string&) {
    const core::IdempotencyRecord& record = m.record;
    binder.Text(record.user_id)
        .Text(record.key)
        .Text(record.request_fingerprint)
        .Int64(record.http_status)
        .Text(record.response_body)
        .TimeMs(record.created_at);
    return base::Status::Ok();
  }
  static std::string Context(const core::IdempotencyStored&) { return "insert idempotency key"; }
};

template <>
struct MutationRow<core::IdempotencyPruned> {
  static constexpr const char* kSql = "DELETE FROM idempotency_keys WHERE created_at_ms < ?1";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::IdempotencyPruned& m, std::string&) {
    binder.TimeMs(m.before);
    return base::Status::Ok();
  }
  static std::string Context(const core::IdempotencyPruned&) { return "prune idempotency keys"; }
};

template <>
struct MutationRow<core::AuditAppended> {
  static constexpr const char* kSql =
      "INSERT INTO audit_events (event_id, event_type, user_id, sku_id, outcome,"
      " failure_reason, occurred_at_ms, client_ip, device_fingerprint, metadata, prev_hash,"
      " event_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
  static constexpr RowCount kRows = RowCount::kAny;
  // Both hashes as 32-byte BLOBs (schema 5), converted into `hash_bytes`, which is reused
  // across events and outlives the step.
  static base::Status Bind(Binder& binder, const core::AuditAppended& m, std::string& hash_bytes) {
    const core::AuditEvent& event = m.event;
    hash_bytes.clear();
    if (!core::AppendHashBytes(event.prev_hash, hash_bytes) ||
        !core::AppendHashBytes(event.event_hash, hash_bytes)) {
      return base::Internal("event " + std::to_string(event.event_id) +
                            ": a hash is not 64 lower-case hex characters");
    }
    const std::string_view hashes(hash_bytes);
    binder.Int64(event.event_id)
        .Int64(core::AuditEventTypeCode(event.type))
        .OptionalText(event.user_id)
        .OptionalText(event.sku_id)
        .Int64(core::AuditOutcomeCode(event.outcome))
        .OptionalText(event.failure_reason)
        .TimeMs(event.occurred_at)
        .OptionalText(event.client_ip)
        .OptionalText(event.device_fingerprint)
        .Text(event.metadata)
        .Blob(hashes.substr(0, core::kHashBytes))
        .Blob(hashes.substr(core::kHashBytes));
    return base::Status::Ok();
  }
  static std::string Context(const core::AuditAppended& m) {
    return "event " + std::to_string(m.event.event_id) + ": insert audit event";
  }
};

// The two operator edits of a skus row, each guarded by its expected old value.
template <>
struct MutationRow<core::SaleOverrideChanged> {
  static constexpr const char* kSql =
      "UPDATE skus SET override_state = ?1 WHERE sku_id = ?2 AND override_state = ?3";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::SaleOverrideChanged& m, std::string&) {
    binder.Int64(static_cast<std::int64_t>(m.to))
        .Text(m.sku_id)
        .Int64(static_cast<std::int64_t>(m.from));
    return base::Status::Ok();
  }
  static std::string Context(const core::SaleOverrideChanged& m) {
    return "override of sale '" + m.sku_id + "'";
  }
};

template <>
struct MutationRow<core::SaleDetailsChanged> {
  static constexpr const char* kSql =
      "UPDATE skus SET description = ?1, image_url = ?2, category = ?3, tags = ?4, name = ?5"
      " WHERE sku_id = ?6";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::SaleDetailsChanged& m, std::string&) {
    BindDetails(binder, m.details);
    binder.Text(m.name).Text(m.sku_id);
    return base::Status::Ok();
  }
  static std::string Context(const core::SaleDetailsChanged& m) {
    return "details of sale '" + m.sku_id + "'";
  }
};

// The no_oversell CHECK refuses a total below held + sold: the second guard.
template <>
struct MutationRow<core::SaleStockChanged> {
  static constexpr const char* kSql =
      "UPDATE skus SET total_stock = ?1 WHERE sku_id = ?2 AND total_stock = ?3";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::SaleStockChanged& m, std::string&) {
    binder.Int64(m.to).Text(m.sku_id).Int64(m.from);
    return base::Status::Ok();
  }
  static std::string Context(const core::SaleStockChanged& m) {
    return "total_stock of sale '" + m.sku_id + "'";
  }
};

template <>
struct MutationRow<core::OrderCreated> {
  static constexpr const char* kSql =
      "INSERT INTO orders (order_id, reservation_id, sku_id, user_id, quantity, amount_cents,"
      " currency, status, failure_reason, payment_method_id, attempts, next_attempt_at_ms,"
      " created_at_ms, updated_at_ms, buyer_email, request_id)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::OrderCreated& m, std::string&) {
    const core::Order& order = m.order;
    binder.Text(order.order_id)
        .Text(order.reservation_id)
        .Text(order.sku_id)
        .Text(order.user_id)
        .Int64(order.quantity)
        .Int64(order.amount_cents)
        .Text(order.currency)
        .Int64(static_cast<std::int64_t>(order.status))
        .Text(order.failure_reason)
        .Text(order.payment_method_id)
        .Int64(order.attempts)
        .TimeMs(order.next_attempt_at)
        .TimeMs(order.created_at)
        .TimeMs(order.updated_at)
        .NullableText(order.buyer_email)
        .NullableText(order.request_id);
    return base::Status::Ok();
  }
  static std::string Context(const core::OrderCreated& m) {
    return "insert order '" + m.order.order_id + "'";
  }
};

template <>
struct MutationRow<core::OrderStatusChanged> {
  static constexpr const char* kSql =
      "UPDATE orders SET status = ?1, failure_reason = ?2, attempts = ?3,"
      " next_attempt_at_ms = ?4, updated_at_ms = ?5 WHERE order_id = ?6 AND status = ?7";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::OrderStatusChanged& m, std::string&) {
    const core::Order& order = m.order;
    binder.Int64(static_cast<std::int64_t>(order.status))
        .Text(order.failure_reason)
        .Int64(order.attempts)
        .TimeMs(order.next_attempt_at)
        .TimeMs(order.updated_at)
        .Text(order.order_id)
        .Int64(static_cast<std::int64_t>(m.from));
    return base::Status::Ok();
  }
  static std::string Context(const core::OrderStatusChanged& m) {
    return "order '" + m.order.order_id + "' " + std::string(core::OrderStatusName(m.from)) +
           " -> " + std::string(core::OrderStatusName(m.order.status));
  }
};

template <>
struct MutationRow<core::OrderRetryScheduled> {
  static constexpr const char* kSql =
      "UPDATE orders SET attempts = ?1, next_attempt_at_ms = ?2, updated_at_ms = ?3"
      " WHERE order_id = ?4 AND status = 1 AND attempts < ?1";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::OrderRetryScheduled& m, std::string&) {
    binder.Int64(m.attempts).TimeMs(m.next_attempt_at).TimeMs(m.at).Text(m.order_id);
    return base::Status::Ok();
  }
  static std::string Context(const core::OrderRetryScheduled& m) {
    return "order '" + m.order_id + "' retry";
  }
  static std::string NoMatchHint(const core::OrderRetryScheduled&) {
    return " (unknown id, not PENDING, or attempts not growing)";
  }
};

// event_id == sku_id + ":" + sequence, without building the string.
bool IsOutboxEventId(std::string_view event_id, std::string_view sku_id, std::int64_t sequence) {
  if (event_id.size() <= sku_id.size() + 1 || event_id.substr(0, sku_id.size()) != sku_id ||
      event_id[sku_id.size()] != ':') {
    return false;
  }
  std::array<char, 24> digits{};
  const auto [end, error] = std::to_chars(digits.data(), digits.data() + digits.size(), sequence);
  if (error != std::errc()) return false;
  return event_id.substr(sku_id.size() + 1) ==
         std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data()));
}

template <>
struct MutationRow<core::EventAppended> {
  static constexpr const char* kSql =
      "INSERT INTO outbox (type, sku_id, user_id, sku_sequence, occurred_at_ms, payload)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::EventAppended& m, std::string&) {
    const core::OutboxEvent& event = m.event;
    // The table derives event_id from sku and sequence (migration 6); one the writer built
    // otherwise would be a bug, refused here as the CHECK it replaces did.
    if (!IsOutboxEventId(event.event_id, event.sku_id, event.sequence)) {
      return base::Internal("insert event '" + event.event_id + "': event_id is not <sku>:<seq>");
    }
    binder.Text(event.type)
        .Text(event.sku_id)
        .Text(event.user_id)
        .Int64(event.sequence)
        .TimeMs(event.occurred_at)
        .Text(event.payload_json);
    return base::Status::Ok();
  }
  static std::string Context(const core::EventAppended& m) {
    return "event '" + m.event.event_id + "': insert event";
  }
};

template <>
struct MutationRow<core::WaitingRoomCreated> {
  static constexpr const char* kSql =
      "INSERT INTO waiting_rooms (sku_id, created_at_ms) VALUES (?1, ?2)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::WaitingRoomCreated& m, std::string&) {
    binder.Text(m.room.sku_id).TimeMs(m.room.created_at);
    return base::Status::Ok();
  }
  static std::string Context(const core::WaitingRoomCreated& m) {
    return "insert waiting room '" + m.room.sku_id + "'";
  }
};

template <>
struct MutationRow<core::QueueTicketIssued> {
  static constexpr const char* kSql =
      "INSERT INTO queue_tickets (ticket_id, sku_id, user_id, join_seq, joined_at_ms)"
      " VALUES (?1, ?2, ?3, ?4, ?5)";
  static constexpr RowCount kRows = RowCount::kAny;
  static base::Status Bind(Binder& binder, const core::QueueTicketIssued& m, std::string&) {
    const core::QueueTicket& ticket = m.ticket;
    binder.Text(ticket.ticket_id)
        .Text(ticket.sku_id)
        .Text(ticket.user_id)
        .Int64(ticket.join_seq)
        .TimeMs(ticket.joined_at);
    return base::Status::Ok();
  }
  static std::string Context(const core::QueueTicketIssued& m) {
    return "insert queue ticket of '" + m.ticket.sku_id + "'";
  }
};

template <>
struct MutationRow<core::WaitingRoomDrawn> {
  static constexpr const char* kSql =
      "UPDATE waiting_rooms SET draw_seed = ?1, prequeue_count = ?2, drawn_at_ms = ?3"
      " WHERE sku_id = ?4 AND draw_seed IS NULL";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::WaitingRoomDrawn& m, std::string&) {
    // The seed is a uint64 stored in SQLite's int64 bit for bit.
    binder.Int64(static_cast<std::int64_t>(m.seed))
        .Int64(m.prequeue_count)
        .TimeMs(m.at)
        .Text(m.sku_id);
    return base::Status::Ok();
  }
  static std::string Context(const core::WaitingRoomDrawn& m) {
    return "draw of waiting room '" + m.sku_id + "'";
  }
};

template <>
struct MutationRow<core::QueueTicketAdmitted> {
  static constexpr const char* kSql =
      "UPDATE queue_tickets SET admitted_at_ms = ?1, pass_expires_at_ms = ?2"
      " WHERE ticket_id = ?3 AND sku_id = ?4 AND admitted_at_ms IS NULL";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::QueueTicketAdmitted& m, std::string&) {
    binder.TimeMs(m.admitted_at).TimeMs(m.pass_expires_at).Text(m.ticket_id).Text(m.sku_id);
    return base::Status::Ok();
  }
  static std::string Context(const core::QueueTicketAdmitted& m) {
    return "admission of a ticket of '" + m.sku_id + "'";
  }
};

template <>
struct MutationRow<core::QueuePassUsed> {
  static constexpr const char* kSql =
      "UPDATE queue_tickets SET used_reservation_id = ?1, used_at_ms = ?2"
      " WHERE ticket_id = ?3 AND sku_id = ?4 AND used_reservation_id IS NULL";
  static constexpr RowCount kRows = RowCount::kExactlyOne;
  static base::Status Bind(Binder& binder, const core::QueuePassUsed& m, std::string&) {
    binder.Text(m.reservation_id).TimeMs(m.at).Text(m.ticket_id).Text(m.sku_id);
    return base::Status::Ok();
  }
  static std::string Context(const core::QueuePassUsed& m) {
    return "use of a queue pass of '" + m.sku_id + "'";
  }
};

// The SQL by the variant's index.
template <std::size_t... I>
constexpr auto SqlTable(std::index_sequence<I...>) {
  return std::array<const char*, sizeof...(I)>{
      MutationRow<std::variant_alternative_t<I, core::Mutation>>::kSql...};
}
constexpr auto kSqlByKind = SqlTable(std::make_index_sequence<SqliteMutationWriter::kKinds>());

// Binds, steps and checks one mutation of type M with its cached statement.
template <typename M>
base::Status WriteRow(sqlite3* db, sqlite3_stmt* statement, const M& mutation,
                      std::string& scratch) {
  using Row = MutationRow<M>;
  StatementUse use(statement);
  Binder binder(statement);
  FS_RETURN_IF_ERROR(Row::Bind(binder, mutation, scratch));
  if (binder.rc() != SQLITE_OK) {
    return ErrorFrom(binder.rc(), db, Stage::kApply, Row::Context(mutation));
  }
  const int rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE) return ErrorFrom(rc, db, Stage::kApply, Row::Context(mutation));
  if constexpr (Row::kRows == RowCount::kExactlyOne) {
    // Counts only this statement's rows, not the triggers'.
    const int changed_rows = sqlite3_changes(db);
    if (changed_rows != 1) {
      std::string message =
          Row::Context(mutation) + ": matched " + std::to_string(changed_rows) + " rows";
      if constexpr (requires { Row::NoMatchHint(mutation); }) {
        message += Row::NoMatchHint(mutation);
      }
      return base::Internal(std::move(message));
    }
  }
  return base::Status::Ok();
}

}  // namespace

base::Result<std::unique_ptr<SqliteMutationWriter>> SqliteMutationWriter::Prepare(sqlite3* db) {
  std::unique_ptr<SqliteMutationWriter> writer(new SqliteMutationWriter(db));
  for (std::size_t kind = 0; kind < kKinds; ++kind) {
    auto statement = sqlite::Prepare(db, kSqlByKind[kind], SQLITE_PREPARE_PERSISTENT, Stage::kOpen);
    if (!statement) return statement.error();
    writer->statements_[kind] = std::move(*statement);
  }
  return writer;
}

base::Status SqliteMutationWriter::Write(const core::Mutation& mutation) {
  sqlite3_stmt* statement = statements_[mutation.index()].get();
  return std::visit([&](const auto& typed) { return WriteRow(db_, statement, typed, scratch_); },
                    mutation);
}

}  // namespace fs::store::sqlite
