#include "audit/audit_reader.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "audit/audit_index.h"
#include "audit/sqlite_util.h"
#include "base/time_format.h"

namespace fs::audit {
namespace {

// A reader waits this long for a checkpoint or a migration before giving up.
constexpr int kBusyTimeoutMs = 5'000;

// The units of paid orders of one sale, if the checkout module's `orders` table exists.
// The one place to change when that table's shape is settled.
constexpr const char* kPaidOrderUnitsSql =
    "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE sku_id = ?1 AND status = 2";  // PAID

using sqlite_util::OptionalText;
using sqlite_util::SqlError;
using sqlite_util::Statement;
using sqlite_util::Text;

constexpr const char* kEventColumns =
    "SELECT event_id, event_type, user_id, sku_id, outcome, failure_reason, occurred_at_ms,"
    " client_ip, device_fingerprint, metadata, prev_hash, event_hash FROM audit_events";

// A stored event type or outcome: its number (schema 5 on) or, in a file not yet migrated, its
// name; returned as a name, or as "#<number>" for a number this binary does not know.
template <typename Enum>
std::string StoredName(sqlite3_stmt* row, int column,
                       std::optional<Enum> (*from_code)(std::int64_t),
                       std::string_view (*name_of)(Enum)) {
  if (sqlite3_column_type(row, column) != SQLITE_INTEGER) return Text(row, column);
  const std::int64_t code = sqlite3_column_int64(row, column);
  const std::optional<Enum> known = from_code(code);
  return known ? std::string(name_of(*known)) : "#" + std::to_string(code);
}

// A stored hash as hex: a BLOB (schema 5 on) as the hex of its bytes, text as it is.
std::string StoredHash(sqlite3_stmt* row, int column) {
  if (sqlite3_column_type(row, column) != SQLITE_BLOB) return Text(row, column);
  return core::HexOfBytes(sqlite_util::Blob(row, column));
}

// Decodes a row of kEventColumns. A type or outcome this binary does not know cannot be
// re-encoded: the event is reported broken by the verifier (its hash will not match).
core::AuditEvent DecodeEvent(sqlite3_stmt* row, std::string& unknown_name) {
  core::AuditEvent event;
  event.event_id = sqlite3_column_int64(row, 0);
  unknown_name = DecodeEventNames(
      StoredName(row, 1, &core::AuditEventTypeFromCode, &core::AuditEventTypeName),
      StoredName(row, 4, &core::AuditOutcomeFromCode, &core::AuditOutcomeName), event);
  event.user_id = OptionalText(row, 2);
  event.sku_id = OptionalText(row, 3);
  event.failure_reason = OptionalText(row, 5);
  event.occurred_at = base::TimeFromMillis(sqlite3_column_int64(row, 6));
  event.client_ip = OptionalText(row, 7);
  event.device_fingerprint = OptionalText(row, 8);
  event.metadata = Text(row, 9);
  event.prev_hash = StoredHash(row, 10);
  event.event_hash = StoredHash(row, 11);
  return event;
}

void AppendOptionalString(std::string& out, const char* key,
                          const std::optional<std::string>& value) {
  out += ',';
  out += core::JsonQuote(key);
  out += ':';
  out += value ? core::JsonQuote(*value) : "null";
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
  auto opened = sqlite_util::OpenConnection(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs);
  if (!opened) return opened.error();
  sqlite3* raw = *opened;
  std::unique_ptr<AuditReader> reader(new AuditReader(raw));
  Statement table(raw,
                  "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'");
  if (!table.ok()) return SqlError(raw, "read the schema of " + path);
  if (sqlite3_step(table.get()) != SQLITE_ROW) {
    return base::FailedPrecondition(path + " has no audit_events table (schema older than 2)");
  }
  // The disputes index beside the database, when there is one (read-only like the database).
  const std::string index_path = AuditIndexPath(path);
  if (std::filesystem::exists(index_path)) {
    Statement attach(raw, "ATTACH DATABASE ?1 AS idx");
    if (attach.ok()) {
      attach.BindText(1, index_path);
      reader->has_index_ = sqlite3_step(attach.get()) == SQLITE_DONE;
    }
  }
  return reader;
}

AuditReader::~AuditReader() { sqlite3_close_v2(db_); }

base::Status AuditReader::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqlError(db_, sql);
  return base::Status::Ok();
}

// Runs `body` inside one read transaction (one snapshot) and always ends it.
template <typename Body>
auto InSnapshot(sqlite3* db, Body&& body) -> decltype(body()) {
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqlError(db, "BEGIN");
  }
  auto result = body();
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);  // a read: nothing to lose
  return result;
}

base::Result<VerifyReport> AuditReader::Verify() {
  return InSnapshot(db_, [this] { return VerifyInSnapshot(); });
}

base::Result<VerifyReport> AuditReader::VerifyInSnapshot() {
  const std::string sql = std::string(kEventColumns) + " ORDER BY event_id";
  Statement statement(db_, sql.c_str());
  if (!statement.ok()) return SqlError(db_, "prepare the chain walk");
  ChainWalk walk;
  std::string unknown_name;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    if (!walk.Next(DecodeEvent(statement.get(), unknown_name), unknown_name)) {
      return walk.Report();
    }
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db_, "walk the chain");
  return walk.Report();
}

// How far the disputes index (audit_index.h) reaches, when it belongs to this database's
// chain (the event it stops at has the hash it recorded); nullopt when it cannot be used.
std::optional<std::int64_t> AuditReader::IndexedThrough() {
  if (!has_index_) return std::nullopt;
  Statement check(
      db_,
      "SELECT m.through_id FROM idx.indexed m WHERE m.id = 1 AND (m.through_id = 0"
      " OR EXISTS (SELECT 1 FROM main.audit_events a"
      "            WHERE a.event_id = m.through_id AND a.event_hash = m.through_hash))");
  if (!check.ok() || sqlite3_step(check.get()) != SQLITE_ROW) return std::nullopt;
  return sqlite3_column_int64(check.get(), 0);
}

base::Result<AuditPage> AuditReader::Query(const AuditQuery& query) {
  return InSnapshot(db_, [&] { return QueryInSnapshot(query); });
}

base::Result<AuditPage> AuditReader::QueryInSnapshot(const AuditQuery& query) {
  const int limit = std::clamp(query.limit, 1, kAuditPageMax);
  std::string sql = std::string(kEventColumns) + " WHERE event_id > ?1";
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
  Statement statement(db_, sql.c_str());
  if (!statement.ok()) return SqlError(db_, "prepare the audit query");
  statement.BindInt64(1, query.after_id);
  if (query.user_id) statement.BindText(2, *query.user_id);
  if (query.sku_id) statement.BindText(3, *query.sku_id);
  if (query.from) statement.BindInt64(4, base::ToMillis(*query.from));
  if (query.to) statement.BindInt64(5, base::ToMillis(*query.to));
  // One more than asked: tells whether another page exists without a second query.
  statement.BindInt64(6, limit + 1);
  if (indexed_through) statement.BindInt64(7, *indexed_through);
  AuditPage page;
  std::string unknown_name;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    if (page.events.size() == static_cast<std::size_t>(limit)) {
      page.next_after_id = page.events.back().event_id;
      break;
    }
    page.events.push_back(DecodeEvent(statement.get(), unknown_name));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db_, "run the audit query");
  return page;
}

base::Status AuditReader::ForEachEvent(
    const std::function<base::Status(const core::AuditEvent&)>& on_event) {
  return InSnapshot(db_, [&]() -> base::Status {
    const std::string sql = std::string(kEventColumns) + " ORDER BY event_id";
    Statement statement(db_, sql.c_str());
    if (!statement.ok()) return SqlError(db_, "prepare the export");
    std::string unknown_name;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
      FS_RETURN_IF_ERROR(on_event(DecodeEvent(statement.get(), unknown_name)));
    }
    if (rc != SQLITE_DONE) return SqlError(db_, "read the events");
    return base::Status::Ok();
  });
}

base::Result<ReconciliationReport> AuditReader::Reconcile(
    const std::optional<std::string>& sku_id) {
  return InSnapshot(db_, [&] { return ReconcileInSnapshot(sku_id); });
}

base::Result<ReconciliationReport> AuditReader::ReconcileInSnapshot(
    const std::optional<std::string>& sku_id) {
  ReconciliationReport report;
  Statement skus(db_, sku_id ? "SELECT sku_id, total_stock, held, sold FROM skus WHERE sku_id = ?1"
                             : "SELECT sku_id, total_stock, held, sold FROM skus ORDER BY sku_id");
  if (!skus.ok()) return SqlError(db_, "prepare the sales query");
  if (sku_id) skus.BindText(1, *sku_id);
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(skus.get())) == SQLITE_ROW) {
    SkuReconciliation sku;
    sku.sku_id = Text(skus.get(), 0);
    sku.total_stock = sqlite3_column_int64(skus.get(), 1);
    sku.counter_held = sqlite3_column_int64(skus.get(), 2);
    sku.counter_sold = sqlite3_column_int64(skus.get(), 3);
    report.skus.push_back(std::move(sku));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "read the sales");
  if (sku_id && report.skus.empty()) return base::NotFound("no sale " + *sku_id);
  for (SkuReconciliation& sku : report.skus) FS_RETURN_IF_ERROR(ReconcileSku(sku));
  auto audit = VerifyInSnapshot();
  if (!audit) return audit.error();
  report.audit = std::move(*audit);
  return report;
}

base::Status AuditReader::ReconcileSku(SkuReconciliation& sku) {
  Statement rows(db_,
                 "SELECT COUNT(*),"
                 " COALESCE(SUM(CASE WHEN status IN (1, 2) THEN quantity ELSE 0 END), 0),"
                 " COALESCE(SUM(CASE WHEN status = 3 THEN quantity ELSE 0 END), 0)"
                 " FROM reservations WHERE sku_id = ?1");
  if (!rows.ok()) return SqlError(db_, "prepare the recount");
  rows.BindText(1, sku.sku_id);
  if (sqlite3_step(rows.get()) != SQLITE_ROW) return SqlError(db_, "recount reservations");
  sku.reservation_rows = sqlite3_column_int64(rows.get(), 0);
  sku.rows_held = sqlite3_column_int64(rows.get(), 1);
  sku.rows_sold = sqlite3_column_int64(rows.get(), 2);

  Statement units(db_,
                  "WITH derived AS (SELECT user_id,"
                  "   SUM(CASE WHEN status IN (1, 2, 3) THEN quantity ELSE 0 END) AS units"
                  "   FROM reservations WHERE sku_id = ?1 GROUP BY user_id)"
                  " SELECT COUNT(*) FROM derived d"
                  " LEFT JOIN user_units u ON u.sku_id = ?1 AND u.user_id = d.user_id"
                  " WHERE COALESCE(u.units, 0) <> d.units");
  if (!units.ok()) return SqlError(db_, "prepare the user units recount");
  units.BindText(1, sku.sku_id);
  if (sqlite3_step(units.get()) != SQLITE_ROW) return SqlError(db_, "recount user units");
  sku.user_units_mismatches = sqlite3_column_int64(units.get(), 0);

  FS_RETURN_IF_ERROR(CheckOrders(sku));
  JudgeSku(sku);
  return base::Status::Ok();
}

base::Status AuditReader::CheckOrders(SkuReconciliation& sku) {
  Statement table(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orders'");
  if (!table.ok()) return SqlError(db_, "read the schema");
  sku.orders_table = sqlite3_step(table.get()) == SQLITE_ROW;
  if (!sku.orders_table) {
    sku.orders_note = "no orders table in this database";
    return base::Status::Ok();
  }
  Statement paid(db_, kPaidOrderUnitsSql);
  if (!paid.ok()) {
    sku.orders_note = std::string("orders table not understood: ") + sqlite3_errmsg(db_);
    return base::Status::Ok();
  }
  paid.BindText(1, sku.sku_id);
  if (sqlite3_step(paid.get()) != SQLITE_ROW) return SqlError(db_, "sum paid orders");
  sku.orders_checked = true;
  sku.paid_order_units = sqlite3_column_int64(paid.get(), 0);
  return base::Status::Ok();
}

// --- Rendering ------------------------------------------------------------------------------

std::string RenderAuditEvent(const core::AuditEvent& event) {
  std::string out = "{\"event_id\":" + std::to_string(event.event_id);
  out += ",\"event_type\":" + core::JsonQuote(core::AuditEventTypeName(event.type));
  AppendOptionalString(out, "user_id", event.user_id);
  AppendOptionalString(out, "sku_id", event.sku_id);
  out += ",\"outcome\":" + core::JsonQuote(core::AuditOutcomeName(event.outcome));
  AppendOptionalString(out, "failure_reason", event.failure_reason);
  out += ",\"occurred_at\":" + core::JsonQuote(base::FormatRfc3339(event.occurred_at));
  AppendInt(out, "occurred_at_ms", base::ToMillis(event.occurred_at));
  AppendOptionalString(out, "client_ip", event.client_ip);
  AppendOptionalString(out, "device_fingerprint", event.device_fingerprint);
  out += ",\"metadata\":" + core::JsonQuote(event.metadata);
  out += ",\"prev_hash\":" + core::JsonQuote(event.prev_hash);
  out += ",\"event_hash\":" + core::JsonQuote(event.event_hash);
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

}  // namespace fs::audit
