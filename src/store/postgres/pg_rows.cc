#include "store/postgres/pg_rows.h"

#include <libpq-fe.h>

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/rules.h"
#include "store/audit_event_names.h"

namespace fs::store::pg {
namespace {

// Reads the columns in order; the first failure sticks.
class RowReader {
 public:
  RowReader(const pg_result* result, int row) : result_(result), row_(row) {}
  std::string Text() { return pg::Text(result_, row_, column_++); }
  std::int64_t Int64() {
    auto value = pg::Int64(result_, row_, column_++);
    if (!value) Fail(value.error());
    return value ? *value : 0;
  }
  std::int32_t Int32() {
    auto value = pg::Int32(result_, row_, column_++);
    if (!value) Fail(value.error());
    return value ? *value : 0;
  }
  base::Time Time() { return base::TimeFromMillis(Int64()); }
  std::optional<base::Time> OptionalTime() {
    auto value = pg::OptionalInt64(result_, row_, column_++);
    if (!value) Fail(value.error());
    if (!value || !*value) return std::nullopt;
    return base::TimeFromMillis(**value);
  }
  void Fail(base::Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  const base::Status& status() const { return status_; }

 private:
  const pg_result* result_;
  int row_;
  int column_ = 0;
  base::Status status_;
};

}  // namespace

base::Result<std::int32_t> Int32(const pg_result* result, int row, int column) {
  auto value = Int64(result, row, column);
  if (!value) return value.error();
  if (*value < INT32_MIN || *value > INT32_MAX) {
    return base::DataLoss(std::string("postgres: column ") + PQfname(result, column) +
                          " is out of 32-bit range");
  }
  return static_cast<std::int32_t>(*value);
}

base::Result<StoredCounters> DecodeCounters(const pg_result* result, int row) {
  RowReader r(result, row);
  StoredCounters counters;
  counters.sku_id = r.Text();
  counters.total_stock = r.Int64();
  counters.held = r.Int64();
  counters.sold = r.Int64();
  if (!r.status().ok()) return r.status();
  return counters;
}

base::Result<core::Sale> DecodeSale(const pg_result* result, int row) {
  RowReader r(result, row);
  core::Sale sale;
  sale.sku_id = r.Text();
  sale.name = r.Text();
  sale.price_cents = r.Int64();
  sale.currency = r.Text();
  sale.total_stock = r.Int64();
  sale.per_user_limit = r.Int32();
  sale.reservation_ttl_seconds = r.Int32();
  sale.starts_at = r.OptionalTime();
  sale.ends_at = r.OptionalTime();
  const std::int64_t override_state = r.Int64();
  if (override_state < 0 || override_state > 2) {
    r.Fail(base::DataLoss("skus row '" + sale.sku_id + "': unknown override_state"));
  }
  sale.override_state = static_cast<core::SaleOverride>(override_state);
  sale.created_at = r.Time();
  // NULL (not set) reads as "".
  sale.details.description = r.Text();
  sale.details.image_url = r.Text();
  sale.details.category = r.Text();
  sale.details.tags = core::SplitTags(r.Text());
  if (!r.status().ok()) return r.status();
  return sale;
}

base::Result<core::Reservation> DecodeReservation(const pg_result* result, int row) {
  RowReader r(result, row);
  core::Reservation reservation;
  reservation.reservation_id = r.Text();
  reservation.sku_id = r.Text();
  reservation.user_id = r.Text();
  reservation.quantity = r.Int32();
  const auto status = core::ReservationStatusFromInt(r.Int32());
  if (!status) r.Fail(base::DataLoss("reservations row: unknown status"));
  reservation.status = status.value_or(core::ReservationStatus::kReserved);
  reservation.created_at = r.Time();
  reservation.expires_at = r.Time();
  reservation.updated_at = r.Time();
  if (!r.status().ok()) return r.status();
  return reservation;
}

base::Result<core::IdempotencyRecord> DecodeIdempotency(const pg_result* result, int row) {
  RowReader r(result, row);
  core::IdempotencyRecord record;
  record.user_id = r.Text();
  record.key = r.Text();
  record.request_fingerprint = r.Text();
  record.http_status = r.Int32();
  record.response_body = r.Text();
  record.created_at = r.Time();
  if (!r.status().ok()) return r.status();
  return record;
}

base::Result<core::Order> DecodeOrder(const pg_result* result, int row) {
  RowReader r(result, row);
  core::Order order;
  order.order_id = r.Text();
  order.reservation_id = r.Text();
  order.sku_id = r.Text();
  order.user_id = r.Text();
  order.quantity = r.Int32();
  order.amount_cents = r.Int64();
  order.currency = r.Text();
  const auto status = core::OrderStatusFromInt(r.Int32());
  if (!status) r.Fail(base::DataLoss("orders row: unknown status"));
  order.status = status.value_or(core::OrderStatus::kPending);
  order.failure_reason = r.Text();
  order.payment_method_id = r.Text();
  order.attempts = r.Int32();
  order.next_attempt_at = r.Time();
  order.created_at = r.Time();
  order.updated_at = r.Time();
  order.buyer_email = r.Text();  // NULL reads as empty
  order.request_id = r.Text();   // NULL reads as empty
  if (!r.status().ok()) return r.status();
  return order;
}

base::Result<core::AuditEvent> DecodeAuditEvent(const pg_result* rows, int row,
                                                std::string& unknown_name) {
  core::AuditEvent event;
  auto id = Int64(rows, row, 0);
  if (!id) return id.error();
  event.event_id = *id;
  unknown_name = DecodeAuditEventNames(Text(rows, row, 1), Text(rows, row, 4), event);
  event.user_id = OptionalText(rows, row, 2);
  event.sku_id = OptionalText(rows, row, 3);
  event.failure_reason = OptionalText(rows, row, 5);
  auto occurred_at = Int64(rows, row, 6);
  if (!occurred_at) return occurred_at.error();
  event.occurred_at = base::TimeFromMillis(*occurred_at);
  event.client_ip = OptionalText(rows, row, 7);
  event.device_fingerprint = OptionalText(rows, row, 8);
  event.metadata = Text(rows, row, 9);
  event.prev_hash = Text(rows, row, 10);
  event.event_hash = Text(rows, row, 11);
  return event;
}

}  // namespace fs::store::pg
