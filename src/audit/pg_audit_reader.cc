#include "audit/pg_audit_reader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "base/time_format.h"
#include "store/postgres/pg_connection.h"

namespace fs::audit {
namespace {

namespace pg = store::pg;

// Events read per round trip of the chain walk: bounded memory for any chain length.
constexpr int kWalkPage = 5'000;
// How long an export's snapshot may wait for its consumer between two pages (ms).
constexpr int kExportIdleInTransactionMs = 10 * 60 * 1000;

constexpr const char* kEventColumns =
    "SELECT event_id, event_type, user_id, sku_id, outcome, failure_reason, occurred_at_ms,"
    " client_ip, device_fingerprint, metadata, prev_hash, event_hash FROM audit_events";

// Runs `sql` with text parameters ($1..$n, nullopt = NULL); the rows or the failure.
base::Result<pg::ResultHandle> Run(pg_conn* connection, const std::string& sql,
                                   const std::vector<pg::Parameter>& parameters,
                                   const char* context) {
  std::vector<const char*> values;
  values.reserve(parameters.size());
  for (const pg::Parameter& parameter : parameters) {
    values.push_back(parameter ? parameter->c_str() : nullptr);
  }
  pg::ResultHandle result(PQexecParams(connection, sql.c_str(), static_cast<int>(values.size()),
                                       nullptr, values.data(), nullptr, nullptr, 0));
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return pg::ErrorOf(connection, result.get(), context);
  }
  return result;
}

// Decodes row `row` of kEventColumns; `unknown_name` as DecodeEventNames.
base::Result<core::AuditEvent> DecodeEvent(const pg_result* rows, int row,
                                           std::string& unknown_name) {
  core::AuditEvent event;
  auto id = pg::Int64(rows, row, 0);
  if (!id) return id.error();
  event.event_id = *id;
  unknown_name = DecodeEventNames(pg::Text(rows, row, 1), pg::Text(rows, row, 4), event);
  event.user_id = pg::OptionalText(rows, row, 2);
  event.sku_id = pg::OptionalText(rows, row, 3);
  event.failure_reason = pg::OptionalText(rows, row, 5);
  auto occurred_at = pg::Int64(rows, row, 6);
  if (!occurred_at) return occurred_at.error();
  event.occurred_at = base::TimeFromMillis(*occurred_at);
  event.client_ip = pg::OptionalText(rows, row, 7);
  event.device_fingerprint = pg::OptionalText(rows, row, 8);
  event.metadata = pg::Text(rows, row, 9);
  event.prev_hash = pg::Text(rows, row, 10);
  event.event_hash = pg::Text(rows, row, 11);
  return event;
}

enum class WalkStep : std::uint8_t { kContinue, kStop };

// Calls `on_event` for every event in id order, kWalkPage per round trip, inside the caller's
// transaction (one snapshot when it is REPEATABLE READ), until it answers kStop.
base::Status WalkEvents(
    pg_conn* connection,
    const std::function<WalkStep(const core::AuditEvent&, const std::string&)>& on_event) {
  const std::string sql = std::string(kEventColumns) +
                          " WHERE event_id > $1 ORDER BY event_id LIMIT " +
                          std::to_string(kWalkPage);
  std::string unknown_name;
  std::int64_t after_id = std::numeric_limits<std::int64_t>::min();
  while (true) {
    auto rows = Run(connection, sql, {std::to_string(after_id)}, "walk the chain");
    if (!rows) return rows.error();
    const int count = pg::Rows(rows->get());
    for (int row = 0; row < count; ++row) {
      auto event = DecodeEvent(rows->get(), row, unknown_name);
      if (!event) return event.error();
      after_id = event->event_id;
      if (on_event(*event, unknown_name) == WalkStep::kStop) return base::Status::Ok();
    }
    if (count < kWalkPage) return base::Status::Ok();
  }
}

base::Result<std::int64_t> Single(pg_conn* connection, const std::string& sql,
                                  const std::vector<pg::Parameter>& parameters,
                                  const char* context) {
  auto result = Run(connection, sql, parameters, context);
  if (!result) return result.error();
  if (pg::Rows(result->get()) != 1) return base::Internal(std::string(context) + ": no row");
  return pg::Int64(result->get(), 0, 0);
}

}  // namespace

base::Result<std::unique_ptr<PgAuditReader>> PgAuditReader::Open(const std::string& url) {
  pg::SessionOptions options;
  options.application_name = "flashsale-audit";
  auto connection = pg::Connect(url, options);
  if (!connection) return connection.error();
  return std::unique_ptr<PgAuditReader>(new PgAuditReader(connection->release()));
}

PgAuditReader::~PgAuditReader() { PQfinish(connection_); }

base::Status PgAuditReader::Begin() {
  return pg::Exec(connection_, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                  "audit snapshot");
}

void PgAuditReader::End() {
  (void)pg::Exec(connection_, "ROLLBACK", "end audit snapshot");  // a read: nothing to keep
}

base::Result<VerifyReport> PgAuditReader::Verify() {
  FS_RETURN_IF_ERROR(Begin());
  auto report = VerifyInSnapshot();
  End();
  return report;
}

base::Result<VerifyReport> PgAuditReader::VerifyInSnapshot() {
  ChainWalk walk;
  FS_RETURN_IF_ERROR(
      WalkEvents(connection_, [&](const core::AuditEvent& event, const std::string& unknown_name) {
        return walk.Next(event, unknown_name) ? WalkStep::kContinue : WalkStep::kStop;
      }));
  return walk.Report();
}

base::Status PgAuditReader::ForEachEvent(
    const std::function<base::Status(const core::AuditEvent&)>& on_event) {
  FS_RETURN_IF_ERROR(Begin());
  // The export's consumer may be slow (a pipe, a remote disk): between two pages the
  // transaction is idle for as long as writing one page takes. Bounded, not unlimited, so a
  // stalled export cannot pin its snapshot (and hold back vacuum) forever.
  base::Status status = pg::Exec(connection_,
                                 "SET LOCAL idle_in_transaction_session_timeout = " +
                                     std::to_string(kExportIdleInTransactionMs),
                                 "export snapshot timeout");
  if (status.ok()) {
    base::Status failure = base::Status::Ok();
    status = WalkEvents(connection_, [&](const core::AuditEvent& event, const std::string&) {
      failure = on_event(event);
      return failure.ok() ? WalkStep::kContinue : WalkStep::kStop;
    });
    if (status.ok()) status = std::move(failure);
  }
  End();
  return status;
}

base::Result<AuditPage> PgAuditReader::Query(const AuditQuery& query) {
  const int limit = std::clamp(query.limit, 1, kAuditPageMax);
  std::vector<pg::Parameter> parameters = {std::to_string(query.after_id)};
  std::string sql = std::string(kEventColumns) + " WHERE event_id > $1";
  auto add = [&](const char* condition, std::string value) {
    parameters.push_back(std::move(value));
    sql += std::string(" AND ") + condition + " $" + std::to_string(parameters.size());
  };
  if (query.user_id) add("user_id =", *query.user_id);
  if (query.sku_id) add("sku_id =", *query.sku_id);
  if (query.from) add("occurred_at_ms >=", std::to_string(base::ToMillis(*query.from)));
  if (query.to) add("occurred_at_ms <", std::to_string(base::ToMillis(*query.to)));
  // One more than asked: tells whether another page exists without a second query.
  sql += " ORDER BY event_id LIMIT " + std::to_string(limit + 1);
  FS_RETURN_IF_ERROR(Begin());
  auto rows = Run(connection_, sql, parameters, "run the audit query");
  End();
  if (!rows) return rows.error();
  AuditPage page;
  std::string unknown_name;
  const int count = pg::Rows(rows->get());
  for (int row = 0; row < count; ++row) {
    if (page.events.size() == static_cast<std::size_t>(limit)) {
      page.next_after_id = page.events.back().event_id;
      break;
    }
    auto event = DecodeEvent(rows->get(), row, unknown_name);
    if (!event) return event.error();
    page.events.push_back(std::move(*event));
  }
  return page;
}

base::Result<ReconciliationReport> PgAuditReader::Reconcile(
    const std::optional<std::string>& sku_id) {
  FS_RETURN_IF_ERROR(Begin());
  auto report = ReconcileInSnapshot(sku_id);
  End();
  return report;
}

base::Result<ReconciliationReport> PgAuditReader::ReconcileInSnapshot(
    const std::optional<std::string>& sku_id) {
  ReconciliationReport report;
  std::vector<pg::Parameter> parameters;
  if (sku_id) parameters.push_back(*sku_id);
  auto skus = Run(connection_,
                  sku_id ? "SELECT sku_id, total_stock, held, sold FROM skus WHERE sku_id = $1"
                         : "SELECT sku_id, total_stock, held, sold FROM skus ORDER BY sku_id",
                  parameters, "read the sales");
  if (!skus) return skus.error();
  for (int row = 0; row < pg::Rows(skus->get()); ++row) {
    SkuReconciliation sku;
    sku.sku_id = pg::Text(skus->get(), row, 0);
    auto total = pg::Int64(skus->get(), row, 1);
    auto held = pg::Int64(skus->get(), row, 2);
    auto sold = pg::Int64(skus->get(), row, 3);
    if (!total) return total.error();
    if (!held) return held.error();
    if (!sold) return sold.error();
    sku.total_stock = *total;
    sku.counter_held = *held;
    sku.counter_sold = *sold;
    report.skus.push_back(std::move(sku));
  }
  if (sku_id && report.skus.empty()) return base::NotFound("no sale " + *sku_id);
  for (SkuReconciliation& sku : report.skus) FS_RETURN_IF_ERROR(ReconcileSku(sku));
  auto audit = VerifyInSnapshot();
  if (!audit) return audit.error();
  report.audit = std::move(*audit);
  return report;
}

base::Status PgAuditReader::ReconcileSku(SkuReconciliation& sku) {
  auto rows = Run(connection_,
                  "SELECT COUNT(*),"
                  " COALESCE(SUM(CASE WHEN status IN (1, 2) THEN quantity ELSE 0 END), 0),"
                  " COALESCE(SUM(CASE WHEN status = 3 THEN quantity ELSE 0 END), 0)"
                  " FROM reservations WHERE sku_id = $1",
                  {sku.sku_id}, "recount reservations");
  if (!rows) return rows.error();
  auto reservation_rows = pg::Int64(rows->get(), 0, 0);
  auto rows_held = pg::Int64(rows->get(), 0, 1);
  auto rows_sold = pg::Int64(rows->get(), 0, 2);
  if (!reservation_rows) return reservation_rows.error();
  if (!rows_held) return rows_held.error();
  if (!rows_sold) return rows_sold.error();
  sku.reservation_rows = *reservation_rows;
  sku.rows_held = *rows_held;
  sku.rows_sold = *rows_sold;

  auto units = Single(connection_,
                      "WITH derived AS (SELECT user_id,"
                      "   SUM(CASE WHEN status IN (1, 2, 3) THEN quantity ELSE 0 END) AS units"
                      "   FROM reservations WHERE sku_id = $1 GROUP BY user_id)"
                      " SELECT COUNT(*) FROM derived d"
                      " LEFT JOIN user_units u ON u.sku_id = $1 AND u.user_id = d.user_id"
                      " WHERE COALESCE(u.units, 0) <> d.units",
                      {sku.sku_id}, "recount user units");
  if (!units) return units.error();
  sku.user_units_mismatches = *units;

  // The cluster schema always has the orders table (PAID = 2).
  auto paid = Single(connection_,
                     "SELECT COALESCE(SUM(quantity), 0) FROM orders"
                     " WHERE sku_id = $1 AND status = 2",
                     {sku.sku_id}, "sum paid orders");
  if (!paid) return paid.error();
  sku.orders_table = true;
  sku.orders_checked = true;
  sku.paid_order_units = *paid;
  JudgeSku(sku);
  return base::Status::Ok();
}

}  // namespace fs::audit
