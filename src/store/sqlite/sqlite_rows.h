// Row decoders of the embedded store, shared by the store's Load, the outbox relay and the
// audit readers: each table's SELECT column list and the function that turns one row of it
// into its core type. A value outside its domain means the file is not what we wrote
// (kDataLoss).
//
// Thread-safety: pure functions of a row; the statement is used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include <string>

#include "base/status.h"
#include "core/audit.h"
#include "core/mutation.h"
#include "core/types.h"
#include "store/outbox.h"
#include "store/store.h"

namespace fs::store::sqlite {

// "SELECT <columns> FROM <table>" of each decoder; callers append WHERE / ORDER BY.
inline constexpr const char* kSelectCounters = "SELECT sku_id, total_stock, held, sold FROM skus";
inline constexpr const char* kSelectSales =
    "SELECT sku_id, name, price_cents, currency, total_stock, per_user_limit,"
    " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms,"
    " description, image_url, category, tags FROM skus";
inline constexpr const char* kSelectReservations =
    "SELECT reservation_id, sku_id, user_id, quantity, status, created_at_ms, expires_at_ms,"
    " updated_at_ms FROM reservations";
inline constexpr const char* kSelectIdempotency =
    "SELECT user_id, idem_key, request_fingerprint, http_status, response_body, created_at_ms"
    " FROM idempotency_keys";
inline constexpr const char* kSelectOrders =
    "SELECT order_id, reservation_id, sku_id, user_id, quantity, amount_cents, currency, status,"
    " failure_reason, payment_method_id, attempts, next_attempt_at_ms, created_at_ms,"
    " updated_at_ms, buyer_email, request_id FROM orders";
inline constexpr const char* kSelectWaitingRooms =
    "SELECT sku_id, created_at_ms, draw_seed, prequeue_count, drawn_at_ms FROM waiting_rooms";
inline constexpr const char* kSelectQueueTickets =
    "SELECT ticket_id, sku_id, user_id, join_seq, joined_at_ms, admitted_at_ms,"
    " pass_expires_at_ms, used_reservation_id, used_at_ms FROM queue_tickets";
inline constexpr const char* kSelectAuditEvents =
    "SELECT event_id, event_type, user_id, sku_id, outcome, failure_reason, occurred_at_ms,"
    " client_ip, device_fingerprint, metadata, prev_hash, event_hash FROM audit_events";
inline constexpr const char* kSelectOutbox =
    "SELECT id, event_id, type, sku_id, user_id, sku_sequence, occurred_at_ms, payload"
    " FROM outbox";

// A row of kSelectCounters: the counters the triggers keep.
void DecodeCounters(sqlite3_stmt* row, StoredCounters& counters);
base::Status DecodeSale(sqlite3_stmt* row, core::Sale& sale);
base::Status DecodeReservation(sqlite3_stmt* row, core::Reservation& reservation);
base::Status DecodeIdempotency(sqlite3_stmt* row, core::IdempotencyRecord& record);
base::Status DecodeOrder(sqlite3_stmt* row, core::Order& order);
base::Status DecodeWaitingRoom(sqlite3_stmt* row, core::WaitingRoomRecord& room);
base::Status DecodeQueueTicket(sqlite3_stmt* row, core::QueueTicket& ticket);
void DecodeOutboxEvent(sqlite3_stmt* row, StoredEvent& stored);

// A row of kSelectAuditEvents, from any schema version: type and outcome as numbers (schema 5
// on) or names (before), hashes as BLOBs or hex text. `unknown_name` as
// DecodeAuditEventNames (audit_event_names.h): such an event fails verification.
core::AuditEvent DecodeAuditEvent(sqlite3_stmt* row, std::string& unknown_name);

}  // namespace fs::store::sqlite
