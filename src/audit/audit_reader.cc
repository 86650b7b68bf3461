#include "audit/audit_reader.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit_index.h"
#include "base/time_format.h"
#include "base/utf8.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_util.h"

namespace fs::audit {
namespace {

namespace sqlite = store::sqlite;
using sqlite::Stage;

// A reader waits this long for a checkpoint or a migration before giving up.
constexpr int kBusyTimeoutMs = 5'000;

// The units of paid orders of one sale, if the checkout module's `orders` table exists.
// The one place to change when that table's shape is settled.
constexpr const char* kPaidOrderUnitsSql =
    "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE sku_id = ?1 AND status = 2";  // PAID

// Whether the schema has table `name`.
base::Result<bool> HasTable(sqlite3* db, const char* name) {
  auto table = sqlite::Prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                               0, Stage::kRead);
  if (!table) return table.error();
  sqlite::Binder(table->get()).Text(name);
  const int rc = sqlite3_step(table->get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return sqlite::ErrorFrom(rc, db, Stage::kRead, "read the schema");
  }
  return rc == SQLITE_ROW;
}

// Runs the one-row, integer-columns statement `sql` with `sku_id` as ?1.
base::Status QueryCounts(sqlite3* db, const char* sql, const std::string& sku_id,
                         std::string_view context, std::initializer_list<std::int64_t*> out) {
  auto statement = sqlite::Prepare(db, sql, 0, Stage::kRead);
  if (!statement) return statement.error();
  sqlite::Binder(statement->get()).Text(sku_id);
  FS_RETURN_IF_ERROR(sqlite::StepRow(db, statement->get(), context));
  int column = 0;
  for (std::int64_t* value : out) *value = sqlite::ColumnInt64(statement->get(), column++);
  return base::Status::Ok();
}

std::string HexOf(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

void AppendInt(std::string& out, const char* key, std::int64_t value) {
  out += ',';
  out += core::JsonQuote(key);
  out += ':';
  out += std::to_string(value);
}

}  // namespace

bool ReconciliationReport::consistent() const {
  if (!audit.valid) return false;
  return std::all_of(skus.begin(), skus.end(), [](const SkuReconciliation& sku) {
    return sku.mismatches.empty() && sku.oversell == 0;
  });
}

base::Result<std::unique_ptr<AuditReader>> AuditReader::Open(const std::string& path) {
  if (!std::filesystem::exists(path)) return base::NotFound("no database at " + path);
  auto db = sqlite::OpenConnection(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs);
  if (!db) return db.error();
  std::unique_ptr<AuditReader> reader(new AuditReader(std::move(*db)));
  sqlite3* raw = reader->db_.get();
  auto has_audit = HasTable(raw, "audit_events");
  if (!has_audit) return sqlite::WithPrefix(has_audit.error(), path + ": ");
  if (!*has_audit) {
    return base::FailedPrecondition(path + " has no audit_events table (schema older than 2)");
  }
  // The disputes index beside the database, when there is one (read-only like the database).
  const std::string index_path = AuditIndexPath(path);
  if (std::filesystem::exists(index_path)) {
    auto attach = sqlite::Prepare(raw, "ATTACH DATABASE ?1 AS idx", 0, Stage::kOpen);
    if (attach) {
      sqlite::Binder(attach->get()).Text(index_path);
      reader->has_index_ = sqlite3_step(attach->get()) == SQLITE_DONE;
    }
  }
  return reader;
}

AuditReader::AuditReader(sqlite::DatabaseHandle db) : db_(std::move(db)) {}

AuditReader::~AuditReader() = default;

base::Status AuditReader::BeginSnapshot(SnapshotUse) {
  return sqlite::Exec(db_.get(), "BEGIN", Stage::kRead, "BEGIN");
}

void AuditReader::EndSnapshot() {
  sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);  // a read: nothing to lose
}

base::Status AuditReader::WalkEvents(const EventVisitor& on_event) {
  auto statement = sqlite::Prepare(
      db_.get(), std::string(sqlite::kSelectAuditEvents) + " ORDER BY event_id", 0, Stage::kRead);
  if (!statement) return statement.error();
  std::string unknown_name;
  for (;;) {
    const int rc = sqlite3_step(statement->get());
    if (rc == SQLITE_DONE) return base::Status::Ok();
    if (rc != SQLITE_ROW) return sqlite::ErrorFrom(rc, db_.get(), Stage::kRead, "walk the chain");
    const core::AuditEvent event = sqlite::DecodeAuditEvent(statement->get(), unknown_name);
    if (on_event(event, unknown_name) == WalkStep::kStop) return base::Status::Ok();
  }
}

// How far the disputes index (audit_index.h) reaches, when it belongs to this database's
// chain (the event it stops at has the hash it recorded); nullopt when it cannot be used.
std::optional<std::int64_t> AuditReader::IndexedThrough() {
  if (!has_index_) return std::nullopt;
  auto check = sqlite::Prepare(
      db_.get(),
      "SELECT m.through_id FROM idx.indexed m WHERE m.id = 1 AND (m.through_id = 0"
      " OR EXISTS (SELECT 1 FROM main.audit_events a"
      "            WHERE a.event_id = m.through_id AND a.event_hash = m.through_hash))",
      0, Stage::kRead);
  if (!check || sqlite3_step(check->get()) != SQLITE_ROW) return std::nullopt;
  return sqlite::ColumnInt64(check->get(), 0);
}

base::Result<AuditPage> AuditReader::Query(const AuditQuery& query) {
  FS_RETURN_IF_ERROR(BeginSnapshot(SnapshotUse::kCheck));
  auto page = QueryInSnapshot(query);
  EndSnapshot();
  return page;
}

base::Result<AuditPage> AuditReader::QueryInSnapshot(const AuditQuery& query) {
  const int limit = std::clamp(query.limit, 1, kAuditPageMax);
  std::string sql = std::string(sqlite::kSelectAuditEvents) + " WHERE event_id > ?1";
  // A user's events: from the index up to where it reaches, then the few events after it;
  // without a usable index, a scan of the table.
  const std::optional<std::int64_t> indexed_through =
      query.user_id ? IndexedThrough() : std::nullopt;
  if (indexed_through) {
    sql +=
        " AND event_id IN (SELECT event_id FROM idx.user_events"
        "   WHERE user_id = ?2 AND event_id > ?1 AND event_id <= ?7"
        " UNION ALL SELECT event_id FROM main.audit_events"
        "   WHERE event_id > max(?1, ?7) AND user_id = ?2)";
  }
  if (query.user_id) sql += " AND user_id = ?2";
  if (query.sku_id) sql += " AND sku_id = ?3";
  if (query.from) sql += " AND occurred_at_ms >= ?4";
  if (query.to) sql += " AND occurred_at_ms < ?5";
  sql += " ORDER BY event_id LIMIT ?6";
  auto prepared = sqlite::Prepare(db_.get(), sql, 0, Stage::kRead);
  if (!prepared) return prepared.error();
  sqlite3_stmt* statement = prepared->get();
  sqlite3_bind_int64(statement, 1, query.after_id);
  if (query.user_id) {
    sqlite3_bind_text(statement, 2, query.user_id->data(), static_cast<int>(query.user_id->size()),
                      SQLITE_TRANSIENT);
  }
  if (query.sku_id) {
    sqlite3_bind_text(statement, 3, query.sku_id->data(), static_cast<int>(query.sku_id->size()),
                      SQLITE_TRANSIENT);
  }
  if (query.from) sqlite3_bind_int64(statement, 4, base::ToMillis(*query.from));
  if (query.to) sqlite3_bind_int64(statement, 5, base::ToMillis(*query.to));
  // One more than asked: tells whether another page exists without a second query.
  sqlite3_bind_int64(statement, 6, limit + 1);
  if (indexed_through) sqlite3_bind_int64(statement, 7, *indexed_through);
  AuditPage page;
  std::string unknown_name;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    if (page.events.size() == static_cast<std::size_t>(limit)) {
      page.next_after_id = page.events.back().event_id;
      break;
    }
    page.events.push_back(sqlite::DecodeAuditEvent(statement, unknown_name));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return sqlite::ErrorFrom(rc, db_.get(), Stage::kRead, "run the audit query");
  }
  return page;
}

base::Result<std::vector<SkuReconciliation>> AuditReader::ReadSales(
    const std::optional<std::string>& sku_id) {
  const std::string sql =
      std::string(sqlite::kSelectCounters) + (sku_id ? " WHERE sku_id = ?1" : " ORDER BY sku_id");
  auto statement = sqlite::Prepare(db_.get(), sql, 0, Stage::kRead);
  if (!statement) return statement.error();
  if (sku_id) sqlite::Binder(statement->get()).Text(*sku_id);
  std::vector<SkuReconciliation> sales;
  FS_RETURN_IF_ERROR(
      sqlite::ForEachRow(db_.get(), statement->get(), "read the sales", [&](sqlite3_stmt* row) {
        store::StoredCounters counters;
        sqlite::DecodeCounters(row, counters);
        sales.push_back(FromCounters(std::move(counters)));
        return base::Status::Ok();
      }));
  return sales;
}

base::Status AuditReader::Recount(SkuReconciliation& sku) {
  FS_RETURN_IF_ERROR(QueryCounts(
      db_.get(),
      "SELECT COUNT(*),"
      " COALESCE(SUM(CASE WHEN status IN (1, 2) THEN quantity ELSE 0 END), 0),"
      " COALESCE(SUM(CASE WHEN status = 3 THEN quantity ELSE 0 END), 0)"
      " FROM reservations WHERE sku_id = ?1",
      sku.sku_id, "recount reservations", {&sku.reservation_rows, &sku.rows_held, &sku.rows_sold}));
  FS_RETURN_IF_ERROR(QueryCounts(db_.get(),
                                 "WITH derived AS (SELECT user_id,"
                                 "   SUM(CASE WHEN status IN (1, 2, 3) THEN quantity ELSE 0 END)"
                                 "   AS units FROM reservations WHERE sku_id = ?1"
                                 "   GROUP BY user_id)"
                                 " SELECT COUNT(*) FROM derived d"
                                 " LEFT JOIN user_units u ON u.sku_id = ?1"
                                 "   AND u.user_id = d.user_id"
                                 " WHERE COALESCE(u.units, 0) <> d.units",
                                 sku.sku_id, "recount user units", {&sku.user_units_mismatches}));
  return CheckOrders(sku);
}

base::Status AuditReader::CheckOrders(SkuReconciliation& sku) {
  auto has_orders = HasTable(db_.get(), "orders");
  if (!has_orders) return has_orders.error();
  sku.orders_table = *has_orders;
  if (!sku.orders_table) {
    sku.orders_note = "no orders table in this database";
    return base::Status::Ok();
  }
  auto paid = sqlite::Prepare(db_.get(), kPaidOrderUnitsSql, 0, Stage::kRead);
  if (!paid) {
    sku.orders_note = std::string("orders table not understood: ") + sqlite3_errmsg(db_.get());
    return base::Status::Ok();
  }
  sqlite::Binder(paid->get()).Text(sku.sku_id);
  FS_RETURN_IF_ERROR(sqlite::StepRow(db_.get(), paid->get(), "sum paid orders"));
  sku.orders_checked = true;
  sku.paid_order_units = sqlite::ColumnInt64(paid->get(), 0);
  return base::Status::Ok();
}

// --- Rendering ------------------------------------------------------------------------------

std::string RenderAuditEvent(const core::AuditEvent& event) {
  // Rows stored before the edge refused such bytes may hold text that is not UTF-8. The JSON
  // stays valid (each bad byte shows as U+FFFD) and the stored bytes follow in hex under
  // "raw_fields_hex", so the event's hash can still be recomputed offline.
  std::vector<std::pair<const char*, const std::string*>> raw;
  const auto text = [&raw](const char* key, const std::string& value) {
    if (base::IsValidUtf8(value)) return core::JsonQuote(value);
    raw.emplace_back(key, &value);
    return core::JsonQuote(base::ValidUtf8(value));
  };
  const auto optional = [&](const char* key, const std::optional<std::string>& value) {
    return std::string(",\"") + key + "\":" + (value ? text(key, *value) : "null");
  };
  std::string out = "{\"event_id\":" + std::to_string(event.event_id);
  out += ",\"event_type\":" + core::JsonQuote(core::AuditEventTypeName(event.type));
  out += optional("user_id", event.user_id);
  out += optional("sku_id", event.sku_id);
  out += ",\"outcome\":" + core::JsonQuote(core::AuditOutcomeName(event.outcome));
  out += optional("failure_reason", event.failure_reason);
  out += ",\"occurred_at\":" + core::JsonQuote(base::FormatRfc3339(event.occurred_at));
  AppendInt(out, "occurred_at_ms", base::ToMillis(event.occurred_at));
  out += optional("client_ip", event.client_ip);
  out += optional("device_fingerprint", event.device_fingerprint);
  out += ",\"metadata\":" + text("metadata", event.metadata);
  out += ",\"prev_hash\":" + core::JsonQuote(event.prev_hash);
  out += ",\"event_hash\":" + core::JsonQuote(event.event_hash);
  if (!raw.empty()) {
    out += ",\"raw_fields_hex\":{";
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (i > 0) out += ',';
      out += core::JsonQuote(raw[i].first) + ":" + core::JsonQuote(HexOf(*raw[i].second));
    }
    out += '}';
  }
  out += '}';
  return out;
}

std::string RenderVerifyReport(const VerifyReport& report) {
  std::string out = std::string("{\"valid\":") + (report.valid ? "true" : "false");
  AppendInt(out, "events", report.events);
  if (report.valid) {
    out += ",\"head\":{\"event_id\":" + std::to_string(report.head.event_id) +
           ",\"event_hash\":" + core::JsonQuote(report.head.event_hash) + "}";
  } else {
    AppendInt(out, "broken_event_id", report.broken_event_id.value_or(0));
    out += ",\"reason\":" + core::JsonQuote(report.reason);
  }
  out += '}';
  return out;
}

std::string RenderAuditPage(const AuditPage& page) {
  std::string out = "{\"events\":[";
  for (std::size_t i = 0; i < page.events.size(); ++i) {
    if (i > 0) out += ',';
    out += RenderAuditEvent(page.events[i]);
  }
  out += "],\"next_after_id\":";
  out += page.next_after_id ? std::to_string(*page.next_after_id) : "null";
  out += '}';
  return out;
}

std::string RenderSkuReconciliation(const SkuReconciliation& sku, const VerifyReport& audit) {
  std::string out = "{\"sku_id\":" + core::JsonQuote(sku.sku_id);
  AppendInt(out, "total_stock", sku.total_stock);
  out += ",\"counters\":{\"held\":" + std::to_string(sku.counter_held) +
         ",\"sold\":" + std::to_string(sku.counter_sold) +
         ",\"available\":" + std::to_string(sku.total_stock - sku.counter_held - sku.counter_sold) +
         "}";
  out += ",\"recounted\":{\"held\":" + std::to_string(sku.rows_held) +
         ",\"sold\":" + std::to_string(sku.rows_sold) +
         ",\"reservations\":" + std::to_string(sku.reservation_rows) +
         ",\"user_units_mismatches\":" + std::to_string(sku.user_units_mismatches) + "}";
  out += std::string(",\"orders\":{\"table\":") + (sku.orders_table ? "true" : "false") +
         ",\"checked\":" + (sku.orders_checked ? "true" : "false");
  if (sku.orders_checked) AppendInt(out, "paid_units", sku.paid_order_units);
  if (!sku.orders_note.empty()) out += ",\"note\":" + core::JsonQuote(sku.orders_note);
  out += '}';
  AppendInt(out, "oversell", sku.oversell);
  out += ",\"audit\":" + RenderVerifyReport(audit);
  out += ",\"mismatches\":[";
  for (std::size_t i = 0; i < sku.mismatches.size(); ++i) {
    if (i > 0) out += ',';
    out += core::JsonQuote(sku.mismatches[i]);
  }
  const bool consistent = sku.mismatches.empty() && sku.oversell == 0 && audit.valid;
  out += std::string("],\"consistent\":") + (consistent ? "true" : "false") + "}";
  return out;
}

std::string RenderReconciliationJson(const ReconciliationReport& report) {
  std::string out = std::string("{\"consistent\":") + (report.consistent() ? "true" : "false");
  out += ",\"skus\":[";
  for (std::size_t i = 0; i < report.skus.size(); ++i) {
    if (i > 0) out += ',';
    out += RenderSkuReconciliation(report.skus[i], report.audit);
  }
  return out + "],\"audit\":" + RenderVerifyReport(report.audit) + "}";
}

std::string RenderReconciliationTable(const ReconciliationReport& report) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line), "%-24s %10s %10s %10s %10s %10s %10s %9s  %s\n", "sku", "total",
                "held", "held(rows)", "sold", "sold(rows)", "paid", "oversell", "status");
  out += line;
  for (const SkuReconciliation& sku : report.skus) {
    const std::string paid = sku.orders_checked ? std::to_string(sku.paid_order_units) : "-";
    const bool ok = sku.mismatches.empty() && sku.oversell == 0;
    std::snprintf(line, sizeof(line), "%-24s %10lld %10lld %10lld %10lld %10lld %10s %9lld  %s\n",
                  sku.sku_id.c_str(), static_cast<long long>(sku.total_stock),
                  static_cast<long long>(sku.counter_held), static_cast<long long>(sku.rows_held),
                  static_cast<long long>(sku.counter_sold), static_cast<long long>(sku.rows_sold),
                  paid.c_str(), static_cast<long long>(sku.oversell), ok ? "OK" : "MISMATCH");
    out += line;
  }
  out += "\naudit chain: ";
  if (report.audit.valid) {
    out += "valid, " + std::to_string(report.audit.events) + " events, head " +
           std::to_string(report.audit.head.event_id) + " " + report.audit.head.event_hash + "\n";
  } else {
    out += "BROKEN at event " + std::to_string(report.audit.broken_event_id.value_or(0)) + ": " +
           report.audit.reason + "\n";
  }
  bool any = false;
  for (const SkuReconciliation& sku : report.skus) {
    for (const std::string& mismatch : sku.mismatches) {
      if (!any) out += "\nmismatches:\n";
      any = true;
      out += "  " + sku.sku_id + ": " + mismatch + "\n";
    }
  }
  out += report.consistent() ? "\nresult: consistent\n" : "\nresult: NOT consistent\n";
  return out;
}

// --- Records the writer no longer keeps ---------------------------------------------------

namespace {

template <typename T>
base::Result<std::vector<T>> ReadRecords(sqlite3* db, const std::string& sql,
                                         const std::string& key, std::int64_t number,
                                         base::Status (*decode)(sqlite3_stmt*, T&),
                                         std::string_view context) {
  auto statement = sqlite::Prepare(db, sql, 0, Stage::kRead);
  if (!statement) return statement.error();
  sqlite::Binder binder(statement->get());
  if (!key.empty()) binder.Text(key);
  if (number >= 0) binder.Int64(number);
  if (binder.rc() != SQLITE_OK) return sqlite::ErrorFrom(binder.rc(), db, Stage::kRead, context);
  std::vector<T> out;
  for (;;) {
    const int rc = sqlite3_step(statement->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite::ErrorFrom(rc, db, Stage::kRead, context);
    FS_RETURN_IF_ERROR(decode(statement->get(), out.emplace_back()));
  }
  return out;
}

// One row of the order totals query (ReadOrderTotals).
base::Status DecodeOrderTotals(sqlite3_stmt* row, OrderTotals& out) {
  const auto status = core::OrderStatusFromInt(static_cast<int>(sqlite::ColumnInt64(row, 1)));
  if (!status) return base::DataLoss("orders: a status this binary does not know");
  out.sku_id = sqlite::ColumnText(row, 0);
  out.status = *status;
  out.currency = sqlite::ColumnText(row, 2);
  out.orders = sqlite::ColumnInt64(row, 3);
  out.units = sqlite::ColumnInt64(row, 4);
  out.amount_cents = sqlite::ColumnInt64(row, 5);
  return base::Status::Ok();
}

}  // namespace

base::Result<std::optional<core::Reservation>> AuditReader::ReadReservation(
    const std::string& reservation_id) {
  auto rows = ReadRecords<core::Reservation>(
      db_.get(), std::string(store::sqlite::kSelectReservations) + " WHERE reservation_id = ?1",
      reservation_id, -1, &store::sqlite::DecodeReservation, "read a reservation");
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<core::Reservation>();
  return std::optional<core::Reservation>(std::move(rows->front()));
}

base::Result<std::optional<core::Order>> AuditReader::ReadOrder(const std::string& order_id) {
  auto rows = ReadRecords<core::Order>(
      db_.get(), std::string(store::sqlite::kSelectOrders) + " WHERE order_id = ?1", order_id, -1,
      &store::sqlite::DecodeOrder, "read an order");
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<core::Order>();
  return std::optional<core::Order>(std::move(rows->front()));
}

base::Result<std::vector<core::Order>> AuditReader::ReadOrdersWithStatus(core::OrderStatus status,
                                                                         std::size_t count_max) {
  return ReadRecords<core::Order>(
      db_.get(),
      std::string(store::sqlite::kSelectOrders) + " WHERE status = " +
          std::to_string(static_cast<int>(status)) + " ORDER BY created_at_ms, order_id LIMIT ?1",
      "", static_cast<std::int64_t>(count_max), &store::sqlite::DecodeOrder, "read orders");
}

base::Result<std::vector<OrderTotals>> AuditReader::ReadOrderTotals(
    const std::optional<std::string>& sku_id) {
  auto has_orders = HasTable(db_.get(), "orders");
  if (!has_orders) return has_orders.error();
  if (!*has_orders) return std::vector<OrderTotals>();
  // Without a sku ?1 stays unbound, which SQLite reads as NULL: every sale.
  return ReadRecords<OrderTotals>(
      db_.get(),
      "SELECT sku_id, status, currency, COUNT(*), SUM(quantity), SUM(amount_cents) FROM orders"
      " WHERE ?1 IS NULL OR sku_id = ?1 GROUP BY sku_id, status, currency"
      " ORDER BY sku_id, status, currency",
      sku_id.value_or(""), -1, &DecodeOrderTotals, "sum the orders");
}

}  // namespace fs::audit
