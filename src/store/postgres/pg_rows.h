// Row decoders of the cluster store (PostgreSQL, text format), shared by the store's Load and
// ReadChanges and the audit reader: each turns one row of a result, columns in the order of
// the store's SELECTs (pg_store.cc) and kSelectAuditEvents, into its core type. A value outside
// its domain means the database is not what we wrote (kDataLoss).
//
// Thread-safety: pure functions of a result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/audit.h"
#include "core/order.h"
#include "core/types.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace fs::store::pg {

// The columns DecodeReservation and DecodeOrder read, in their order.
inline constexpr const char* kSelectReservations =
    "SELECT reservation_id, sku_id, user_id, quantity, status, created_at_ms, expires_at_ms,"
    " updated_at_ms FROM reservations";
inline constexpr const char* kSelectOrders =
    "SELECT order_id, reservation_id, sku_id, user_id, quantity, amount_cents, currency,"
    " status, failure_reason, payment_method_id, attempts, next_attempt_at_ms, created_at_ms,"
    " updated_at_ms, buyer_email, request_id FROM orders";
inline constexpr const char* kSelectAuditEvents =
    "SELECT event_id, event_type, user_id, sku_id, outcome, failure_reason, occurred_at_ms,"
    " client_ip, device_fingerprint, metadata, prev_hash, event_hash FROM audit_events";

// An integer column that must fit 32 bits.
base::Result<std::int32_t> Int32(const pg_result* result, int row, int column);

// A row of "SELECT sku_id, total_stock, held, sold FROM skus".
base::Result<StoredCounters> DecodeCounters(const pg_result* result, int row);
base::Result<core::Sale> DecodeSale(const pg_result* result, int row);
base::Result<core::Reservation> DecodeReservation(const pg_result* result, int row);
base::Result<core::IdempotencyRecord> DecodeIdempotency(const pg_result* result, int row);
base::Result<core::Order> DecodeOrder(const pg_result* result, int row);
// A row of kSelectAuditEvents; `unknown_name` as DecodeAuditEventNames (audit_event_names.h).
base::Result<core::AuditEvent> DecodeAuditEvent(const pg_result* rows, int row,
                                                std::string& unknown_name);

// Appends every row of `result`, decoded, to `out`; stops at the first row that fails.
template <typename T, typename Decode>
base::Status DecodeRows(const pg_result* result, std::vector<T>& out, Decode decode) {
  const int rows = Rows(result);
  out.reserve(out.size() + static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    auto value = decode(result, row);
    if (!value) return value.error();
    out.push_back(std::move(*value));
  }
  return base::Status::Ok();
}

}  // namespace fs::store::pg
