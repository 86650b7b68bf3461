#include "store/sqlite/sqlite_rows.h"

#include <climits>
#include <cstdint>
#include <optional>
#include <string>

#include "core/rules.h"
#include "store/audit_event_names.h"
#include "store/sqlite/sqlite_util.h"

namespace fs::store::sqlite {
namespace {

std::optional<std::int32_t> ToInt32(std::int64_t value) {
  if (value < INT32_MIN || value > INT32_MAX) return std::nullopt;
  return static_cast<std::int32_t>(value);
}

// A stored audit event type or outcome: its number (schema 5 on) or, in a file not yet
// migrated, its name; returned as a name, or as "#<number>" for a number this binary does not
// know.
template <typename Enum>
std::string StoredName(sqlite3_stmt* row, int column,
                       std::optional<Enum> (*from_code)(std::int64_t),
                       std::string_view (*name_of)(Enum)) {
  if (sqlite3_column_type(row, column) != SQLITE_INTEGER) return ColumnText(row, column);
  const std::int64_t code = ColumnInt64(row, column);
  const std::optional<Enum> known = from_code(code);
  return known ? std::string(name_of(*known)) : "#" + std::to_string(code);
}

// A stored hash as hex: a BLOB (schema 5 on) as the hex of its bytes, text as it is.
std::string StoredHash(sqlite3_stmt* row, int column) {
  if (sqlite3_column_type(row, column) != SQLITE_BLOB) return ColumnText(row, column);
  return core::HexOfBytes(ColumnBlob(row, column));
}

}  // namespace

base::Status DecodeSale(sqlite3_stmt* row, core::Sale& sale) {
  sale.sku_id = ColumnText(row, 0);
  sale.name = ColumnText(row, 1);
  sale.price_cents = ColumnInt64(row, 2);
  sale.currency = ColumnText(row, 3);
  sale.total_stock = ColumnInt64(row, 4);
  const auto per_user_limit = ToInt32(ColumnInt64(row, 5));
  const auto ttl_seconds = ToInt32(ColumnInt64(row, 6));
  if (!per_user_limit || !ttl_seconds) {
    return base::DataLoss("skus row '" + sale.sku_id + "': a 32-bit column is out of range");
  }
  sale.per_user_limit = *per_user_limit;
  sale.reservation_ttl_seconds = *ttl_seconds;
  sale.starts_at = ColumnOptionalTime(row, 7);
  sale.ends_at = ColumnOptionalTime(row, 8);
  const std::int64_t override_state = ColumnInt64(row, 9);
  if (override_state < 0 || override_state > 2) {
    return base::DataLoss("skus row '" + sale.sku_id + "': unknown override_state " +
                          std::to_string(override_state));
  }
  sale.override_state = static_cast<core::SaleOverride>(override_state);
  sale.created_at = base::TimeFromMillis(ColumnInt64(row, 10));
  sale.details.description = ColumnOptionalText(row, 11).value_or("");
  sale.details.image_url = ColumnOptionalText(row, 12).value_or("");
  sale.details.category = ColumnOptionalText(row, 13).value_or("");
  sale.details.tags = core::SplitTags(ColumnOptionalText(row, 14).value_or(""));
  return base::Status::Ok();
}

base::Status DecodeReservation(sqlite3_stmt* row, core::Reservation& reservation) {
  reservation.reservation_id = ColumnText(row, 0);
  reservation.sku_id = ColumnText(row, 1);
  reservation.user_id = ColumnText(row, 2);
  const auto quantity = ToInt32(ColumnInt64(row, 3));
  if (!quantity) {
    return base::DataLoss("reservations row '" + reservation.reservation_id +
                          "': quantity out of range");
  }
  reservation.quantity = *quantity;
  const std::int64_t status_value = ColumnInt64(row, 4);
  const auto status = status_value >= INT_MIN && status_value <= INT_MAX
                          ? core::ReservationStatusFromInt(static_cast<int>(status_value))
                          : std::nullopt;
  if (!status) {
    return base::DataLoss("reservations row '" + reservation.reservation_id + "': unknown status " +
                          std::to_string(status_value));
  }
  reservation.status = *status;
  reservation.created_at = base::TimeFromMillis(ColumnInt64(row, 5));
  reservation.expires_at = base::TimeFromMillis(ColumnInt64(row, 6));
  reservation.updated_at = base::TimeFromMillis(ColumnInt64(row, 7));
  return base::Status::Ok();
}

base::Status DecodeIdempotency(sqlite3_stmt* row, core::IdempotencyRecord& record) {
  record.user_id = ColumnText(row, 0);
  record.key = ColumnText(row, 1);
  record.request_fingerprint = ColumnText(row, 2);
  const auto http_status = ToInt32(ColumnInt64(row, 3));
  if (!http_status) return base::DataLoss("idempotency_keys row: http_status out of range");
  record.http_status = *http_status;
  record.response_body = ColumnText(row, 4);
  record.created_at = base::TimeFromMillis(ColumnInt64(row, 5));
  return base::Status::Ok();
}

base::Status DecodeQueueTicket(sqlite3_stmt* row, core::QueueTicket& ticket) {
  ticket.ticket_id = ColumnText(row, 0);
  ticket.sku_id = ColumnText(row, 1);
  ticket.user_id = ColumnText(row, 2);
  ticket.join_seq = ColumnInt64(row, 3);
  ticket.joined_at = base::TimeFromMillis(ColumnInt64(row, 4));
  ticket.admitted_at = ColumnOptionalTime(row, 5);
  ticket.pass_expires_at = ColumnOptionalTime(row, 6);
  if (sqlite3_column_type(row, 7) != SQLITE_NULL) ticket.used_reservation_id = ColumnText(row, 7);
  ticket.used_at = ColumnOptionalTime(row, 8);
  return base::Status::Ok();
}

base::Status DecodeWaitingRoom(sqlite3_stmt* row, core::WaitingRoomRecord& room) {
  room.sku_id = ColumnText(row, 0);
  room.created_at = base::TimeFromMillis(ColumnInt64(row, 1));
  // The seed is a uint64 stored in SQLite's int64 bit for bit.
  if (sqlite3_column_type(row, 2) != SQLITE_NULL)
    room.draw_seed = static_cast<std::uint64_t>(ColumnInt64(row, 2));
  room.prequeue_count = ColumnInt64(row, 3);
  room.drawn_at = ColumnOptionalTime(row, 4);
  return base::Status::Ok();
}

base::Status DecodeOrder(sqlite3_stmt* row, core::Order& order) {
  order.order_id = ColumnText(row, 0);
  order.reservation_id = ColumnText(row, 1);
  order.sku_id = ColumnText(row, 2);
  order.user_id = ColumnText(row, 3);
  const auto quantity = ToInt32(ColumnInt64(row, 4));
  const auto attempts = ToInt32(ColumnInt64(row, 10));
  if (!quantity || !attempts) {
    return base::DataLoss("orders row '" + order.order_id + "': a 32-bit column is out of range");
  }
  order.quantity = *quantity;
  order.amount_cents = ColumnInt64(row, 5);
  order.currency = ColumnText(row, 6);
  const std::int64_t status_value = ColumnInt64(row, 7);
  const auto status = status_value >= 1 && status_value <= 4
                          ? core::OrderStatusFromInt(static_cast<int>(status_value))
                          : std::nullopt;
  if (!status) {
    return base::DataLoss("orders row '" + order.order_id + "': unknown status " +
                          std::to_string(status_value));
  }
  order.status = *status;
  order.failure_reason = ColumnText(row, 8);
  order.payment_method_id = ColumnText(row, 9);
  order.attempts = *attempts;
  order.next_attempt_at = base::TimeFromMillis(ColumnInt64(row, 11));
  order.created_at = base::TimeFromMillis(ColumnInt64(row, 12));
  order.updated_at = base::TimeFromMillis(ColumnInt64(row, 13));
  order.buyer_email = ColumnOptionalText(row, 14).value_or("");
  order.request_id = ColumnOptionalText(row, 15).value_or("");
  return base::Status::Ok();
}

void DecodeCounters(sqlite3_stmt* row, StoredCounters& counters) {
  counters.sku_id = ColumnText(row, 0);
  counters.total_stock = ColumnInt64(row, 1);
  counters.held = ColumnInt64(row, 2);
  counters.sold = ColumnInt64(row, 3);
}

void DecodeOutboxEvent(sqlite3_stmt* row, StoredEvent& stored) {
  stored.id = ColumnInt64(row, 0);
  stored.event.event_id = ColumnText(row, 1);
  stored.event.type = ColumnText(row, 2);
  stored.event.sku_id = ColumnText(row, 3);
  stored.event.user_id = ColumnText(row, 4);
  stored.event.sequence = ColumnInt64(row, 5);
  stored.event.occurred_at = ColumnTime(row, 6);
  stored.event.payload_json = ColumnText(row, 7);
}

core::AuditEvent DecodeAuditEvent(sqlite3_stmt* row, std::string& unknown_name) {
  core::AuditEvent event;
  event.event_id = ColumnInt64(row, 0);
  unknown_name = DecodeAuditEventNames(
      StoredName(row, 1, &core::AuditEventTypeFromCode, &core::AuditEventTypeName),
      StoredName(row, 4, &core::AuditOutcomeFromCode, &core::AuditOutcomeName), event);
  event.user_id = ColumnOptionalText(row, 2);
  event.sku_id = ColumnOptionalText(row, 3);
  event.failure_reason = ColumnOptionalText(row, 5);
  event.occurred_at = ColumnTime(row, 6);
  event.client_ip = ColumnOptionalText(row, 7);
  event.device_fingerprint = ColumnOptionalText(row, 8);
  event.metadata = ColumnText(row, 9);
  event.prev_hash = StoredHash(row, 10);
  event.event_hash = StoredHash(row, 11);
  return event;
}

}  // namespace fs::store::sqlite
