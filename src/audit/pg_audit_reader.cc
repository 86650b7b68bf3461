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
#include "store/postgres/pg_rows.h"

namespace fs::audit {
namespace {

namespace pg = store::pg;

// Events read per round trip of the chain walk: bounded memory for any chain length.
constexpr int kWalkPage = 5'000;
// How long an export's snapshot may wait for its consumer between two pages (ms).
constexpr int kExportIdleInTransactionMs = 10 * 60 * 1000;

base::Result<std::int64_t> Single(pg_conn* connection, const std::string& sql,
                                  const std::vector<pg::Parameter>& parameters,
                                  const char* context) {
  auto result = pg::Query(connection, sql, parameters, context);
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

base::Status PgAuditReader::BeginSnapshot(SnapshotUse use) {
  FS_RETURN_IF_ERROR(
      pg::Exec(connection_, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "audit snapshot"));
  if (use != SnapshotUse::kExport) return base::Status::Ok();
  // The export's consumer may be slow (a pipe, a remote disk): between two pages the
  // transaction is idle for as long as writing one page takes. Bounded, not unlimited, so a
  // stalled export cannot pin its snapshot (and hold back vacuum) forever.
  base::Status status = pg::Exec(connection_,
                                 "SET LOCAL idle_in_transaction_session_timeout = " +
                                     std::to_string(kExportIdleInTransactionMs),
                                 "export snapshot timeout");
  if (!status.ok()) EndSnapshot();
  return status;
}

void PgAuditReader::EndSnapshot() {
  (void)pg::Exec(connection_, "ROLLBACK", "end audit snapshot");  // a read: nothing to keep
}

// Every event in id order, kWalkPage per round trip, inside the snapshot.
base::Status PgAuditReader::WalkEvents(const EventVisitor& on_event) {
  const std::string sql = std::string(pg::kSelectAuditEvents) +
                          " WHERE event_id > $1 ORDER BY event_id LIMIT " +
                          std::to_string(kWalkPage);
  std::string unknown_name;
  std::int64_t after_id = std::numeric_limits<std::int64_t>::min();
  while (true) {
    auto rows = pg::Query(connection_, sql, {std::to_string(after_id)}, "walk the chain");
    if (!rows) return rows.error();
    const int count = pg::Rows(rows->get());
    for (int row = 0; row < count; ++row) {
      auto event = pg::DecodeAuditEvent(rows->get(), row, unknown_name);
      if (!event) return event.error();
      after_id = event->event_id;
      if (on_event(*event, unknown_name) == WalkStep::kStop) return base::Status::Ok();
    }
    if (count < kWalkPage) return base::Status::Ok();
  }
}

base::Result<AuditPage> PgAuditReader::Query(const AuditQuery& query) {
  const int limit = std::clamp(query.limit, 1, kAuditPageMax);
  std::vector<pg::Parameter> parameters = {std::to_string(query.after_id)};
  std::string sql = std::string(pg::kSelectAuditEvents) + " WHERE event_id > $1";
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
  FS_RETURN_IF_ERROR(BeginSnapshot(SnapshotUse::kCheck));
  auto rows = pg::Query(connection_, sql, parameters, "run the audit query");
  EndSnapshot();
  if (!rows) return rows.error();
  AuditPage page;
  std::string unknown_name;
  const int count = pg::Rows(rows->get());
  for (int row = 0; row < count; ++row) {
    if (page.events.size() == static_cast<std::size_t>(limit)) {
      page.next_after_id = page.events.back().event_id;
      break;
    }
    auto event = pg::DecodeAuditEvent(rows->get(), row, unknown_name);
    if (!event) return event.error();
    page.events.push_back(std::move(*event));
  }
  return page;
}

base::Result<std::vector<SkuReconciliation>> PgAuditReader::ReadSales(
    const std::optional<std::string>& sku_id) {
  std::vector<pg::Parameter> parameters;
  if (sku_id) parameters.push_back(*sku_id);
  auto skus =
      pg::Query(connection_,
                sku_id ? "SELECT sku_id, total_stock, held, sold FROM skus WHERE sku_id = $1"
                       : "SELECT sku_id, total_stock, held, sold FROM skus ORDER BY sku_id",
                parameters, "read the sales");
  if (!skus) return skus.error();
  std::vector<SkuReconciliation> sales;
  for (int row = 0; row < pg::Rows(skus->get()); ++row) {
    auto counters = pg::DecodeCounters(skus->get(), row);
    if (!counters) return counters.error();
    sales.push_back(FromCounters(std::move(*counters)));
  }
  return sales;
}

base::Status PgAuditReader::Recount(SkuReconciliation& sku) {
  auto rows = pg::Query(connection_,
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
  return base::Status::Ok();
}

// --- Records the writer no longer keeps ---------------------------------------------------

base::Result<std::optional<core::Reservation>> PgAuditReader::ReadReservation(
    const std::string& reservation_id) {
  auto rows =
      pg::Query(connection_, std::string(pg::kSelectReservations) + " WHERE reservation_id = $1",
                {reservation_id}, "read a reservation");
  if (!rows) return rows.error();
  if (pg::Rows(rows->get()) == 0) return std::optional<core::Reservation>();
  auto reservation = pg::DecodeReservation(rows->get(), 0);
  if (!reservation) return reservation.error();
  return std::optional<core::Reservation>(std::move(*reservation));
}

base::Result<std::optional<core::Order>> PgAuditReader::ReadOrder(const std::string& order_id) {
  auto rows = pg::Query(connection_, std::string(pg::kSelectOrders) + " WHERE order_id = $1",
                        {order_id}, "read an order");
  if (!rows) return rows.error();
  if (pg::Rows(rows->get()) == 0) return std::optional<core::Order>();
  auto order = pg::DecodeOrder(rows->get(), 0);
  if (!order) return order.error();
  return std::optional<core::Order>(std::move(*order));
}

base::Result<std::vector<core::Order>> PgAuditReader::ReadOrdersWithStatus(core::OrderStatus status,
                                                                           std::size_t count_max) {
  auto rows = pg::Query(connection_,
                        std::string(pg::kSelectOrders) +
                            " WHERE status = $1 ORDER BY created_at_ms, order_id LIMIT $2",
                        {std::to_string(static_cast<int>(status)), std::to_string(count_max)},
                        "read orders");
  if (!rows) return rows.error();
  std::vector<core::Order> orders;
  FS_RETURN_IF_ERROR(pg::DecodeRows(rows->get(), orders, pg::DecodeOrder));
  return orders;
}

base::Result<std::vector<OrderTotals>> PgAuditReader::ReadOrderTotals(
    const std::optional<std::string>& sku_id) {
  auto rows = pg::Query(connection_,
                        "SELECT sku_id, status, currency, COUNT(*), SUM(quantity),"
                        " SUM(amount_cents) FROM orders WHERE $1::text IS NULL OR sku_id = $1"
                        " GROUP BY sku_id, status, currency ORDER BY sku_id, status, currency",
                        {sku_id}, "sum the orders");
  if (!rows) return rows.error();
  std::vector<OrderTotals> totals;
  const pg_result* result = rows->get();
  for (int row = 0; row < pg::Rows(result); ++row) {
    auto status_code = pg::Int64(result, row, 1);
    if (!status_code) return status_code.error();
    const auto status = core::OrderStatusFromInt(static_cast<int>(*status_code));
    if (!status) return base::DataLoss("orders: a status this binary does not know");
    OrderTotals& out = totals.emplace_back();
    out.sku_id = pg::Text(result, row, 0);
    out.status = *status;
    out.currency = pg::Text(result, row, 2);
    for (const auto& [column, target] :
         {std::pair{3, &out.orders}, std::pair{4, &out.units}, std::pair{5, &out.amount_cents}}) {
      auto value = pg::Int64(result, row, column);
      if (!value) return value.error();
      *target = *value;
    }
  }
  return totals;
}

}  // namespace fs::audit
