#include "store/postgres/pg_store.h"

#include <libpq-fe.h>

#include <array>
#include <climits>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include "base/check.h"
#include "store/postgres/pg_schema.h"

namespace fs::store {
namespace {

using pg::ArrayLiteral;
using pg::Parameter;
using pg::PipelineStep;

// ---------------------------------------------------------------------------------------------
// Statements. Changes are read by version: rows written by cluster batches after `$1`, up to
// the cluster head minus `$2` (1 inside this writer's own batch, whose rows are not there yet;
// 0 for a read without the lock).
// ---------------------------------------------------------------------------------------------

#define FS_PG_WINDOW                                                                      \
  " version > $1::bigint AND version <= (SELECT batch FROM cluster_head WHERE id = 1) - " \
  "$2::bigint"

struct NamedStatement {
  const char* name;
  const char* sql;
};

constexpr std::array<NamedStatement, 13> kStatements = {{
    {"lock_batch", "UPDATE cluster_head SET batch = batch + 1 WHERE id = 1 RETURNING batch"},
    {"head_batch", "SELECT batch FROM cluster_head WHERE id = 1"},
    {"changed_sales",
     "SELECT sku_id, name, price_cents, currency, total_stock, per_user_limit,"
     " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms"
     " FROM skus WHERE" FS_PG_WINDOW},
    {"changed_reservations",
     "SELECT reservation_id, sku_id, user_id, quantity, status, created_at_ms, expires_at_ms,"
     " updated_at_ms FROM reservations WHERE" FS_PG_WINDOW},
    {"changed_idempotency",
     "SELECT user_id, idem_key, request_fingerprint, http_status, response_body, created_at_ms"
     " FROM idempotency_keys WHERE" FS_PG_WINDOW " AND created_at_ms >= $3::bigint"
     " ORDER BY created_at_ms"},
    {"changed_orders",
     "SELECT order_id, reservation_id, sku_id, user_id, quantity, amount_cents, currency,"
     " status, failure_reason, payment_method_id, attempts, next_attempt_at_ms, created_at_ms,"
     " updated_at_ms FROM orders WHERE" FS_PG_WINDOW},
    {"changed_sequences",
     "SELECT sku_id, MAX(sku_sequence) FROM outbox WHERE" FS_PG_WINDOW " GROUP BY sku_id"},
    {"audit_head", "SELECT event_id, event_hash FROM audit_events ORDER BY event_id DESC LIMIT 1"},
    {"read_counters", "SELECT sku_id, total_stock, held, sold FROM skus ORDER BY sku_id"},
    {"insert_sale",
     "INSERT INTO skus (sku_id, name, price_cents, currency, total_stock, per_user_limit,"
     " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms,"
     " version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"},
    {"update_override",
     "WITH changed AS (UPDATE skus SET override_state = $1, version = $4"
     " WHERE sku_id = $2 AND override_state = $3 RETURNING 1)"
     " SELECT flashsale_expect_rows((SELECT count(*) FROM changed), 1, 'sale override')"},
    {"update_stock",
     "WITH changed AS (UPDATE skus SET total_stock = $1, version = $4"
     " WHERE sku_id = $2 AND total_stock = $3 RETURNING 1)"
     " SELECT flashsale_expect_rows((SELECT count(*) FROM changed), 1, 'sale total_stock')"},
    {"prune_idempotency", "DELETE FROM idempotency_keys WHERE created_at_ms < $1"},
}};

#undef FS_PG_WINDOW

// ---------------------------------------------------------------------------------------------
// Bulk statements: many rows of one kind in one statement, each row one element of every array
// parameter, read back through unnest($1::type[], ...). They share one shape, so they are
// described by the table kBulkStatements and their SQL is built by BulkSql; BatchStatements
// fills the arrays in the table's column order and adds the parameters after the arrays.
// ---------------------------------------------------------------------------------------------

// One array parameter: its element type and its column name in `u`, the unnested rows.
struct UnnestColumn {
  const char* name;  // for an insert, also the table's column it goes to
  const char* type;  // text, integer, smallint or bigint
};

enum class BulkKind : std::uint8_t {
  // INSERT INTO table (columns[, version]) SELECT u.columns[, $version] FROM unnest(...) u.
  kInsert,
  // UPDATE table SET set, version = $version FROM unnest(...) u WHERE where, then
  // flashsale_expect_rows(rows changed, $expected, what): every row must be changed.
  kUpdate,
};
enum class Stamp : std::uint8_t { kNone, kVersion };  // an insert's version column
// kAsGiven: an insert adds the rows in array order (WITH ORDINALITY ... ORDER BY), because
// its triggers check each row against the ones before it.
enum class RowOrder : std::uint8_t { kUnspecified, kAsGiven };

// Parameters after the arrays: $version (every update, an insert with Stamp::kVersion), then
// an update's $expected row count.
struct BulkStatement {
  const char* name;
  BulkKind kind;
  const char* table;  // kUpdate: followed by the alias that `set` and `where` use
  std::span<const UnnestColumn> columns;
  Stamp stamp = Stamp::kVersion;        // kInsert
  RowOrder order = RowOrder::kAsGiven;  // kInsert
  const char* set = nullptr;            // kUpdate
  const char* where = nullptr;          // kUpdate
  const char* what = nullptr;           // kUpdate: flashsale_expect_rows's label
};

constexpr UnnestColumn kReservationRows[] = {
    {"reservation_id", "text"},  {"sku_id", "text"},          {"user_id", "text"},
    {"quantity", "integer"},     {"status", "smallint"},      {"created_at_ms", "bigint"},
    {"expires_at_ms", "bigint"}, {"updated_at_ms", "bigint"},
};
constexpr UnnestColumn kReservationChanges[] = {
    {"id", "text"},   {"sku", "text"}, {"from_status", "smallint"}, {"to_status", "smallint"},
    {"at", "bigint"},
};
constexpr UnnestColumn kOrderRows[] = {
    {"order_id", "text"},          {"reservation_id", "text"},  {"sku_id", "text"},
    {"user_id", "text"},           {"quantity", "integer"},     {"amount_cents", "bigint"},
    {"currency", "text"},          {"status", "smallint"},      {"failure_reason", "text"},
    {"payment_method_id", "text"}, {"attempts", "integer"},     {"next_attempt_at_ms", "bigint"},
    {"created_at_ms", "bigint"},   {"updated_at_ms", "bigint"},
};
constexpr UnnestColumn kOrderChanges[] = {
    {"id", "text"},        {"from_status", "smallint"}, {"to_status", "smallint"},
    {"reason", "text"},    {"attempts", "integer"},     {"next", "bigint"},
    {"updated", "bigint"},
};
constexpr UnnestColumn kOrderRetries[] = {
    {"id", "text"},
    {"attempts", "integer"},
    {"next", "bigint"},
    {"at", "bigint"},
};
constexpr UnnestColumn kIdempotencyRows[] = {
    {"user_id", "text"},        {"idem_key", "text"},      {"request_fingerprint", "text"},
    {"http_status", "integer"}, {"response_body", "text"}, {"created_at_ms", "bigint"},
};
constexpr UnnestColumn kAuditRows[] = {
    {"event_id", "bigint"},       {"event_type", "text"}, {"user_id", "text"},
    {"sku_id", "text"},           {"outcome", "text"},    {"failure_reason", "text"},
    {"occurred_at_ms", "bigint"}, {"client_ip", "text"},  {"device_fingerprint", "text"},
    {"metadata", "text"},         {"prev_hash", "text"},  {"event_hash", "text"},
};
constexpr UnnestColumn kOutboxRows[] = {
    {"event_id", "text"}, {"type", "text"},           {"sku_id", "text"},
    {"user_id", "text"},  {"sku_sequence", "bigint"}, {"occurred_at_ms", "bigint"},
    {"payload", "text"},
};

constexpr BulkStatement kInsertReservations = {.name = "insert_reservations",
                                               .kind = BulkKind::kInsert,
                                               .table = "reservations",
                                               .columns = kReservationRows};
constexpr BulkStatement kUpdateReservations = {
    .name = "update_reservations",
    .kind = BulkKind::kUpdate,
    .table = "reservations r",
    .columns = kReservationChanges,
    .set = "status = u.to_status, updated_at_ms = u.at",
    .where = "r.reservation_id = u.id AND r.sku_id = u.sku AND r.status = u.from_status",
    .what = "reservation status changes"};
constexpr BulkStatement kInsertOrders = {
    .name = "insert_orders", .kind = BulkKind::kInsert, .table = "orders", .columns = kOrderRows};
constexpr BulkStatement kUpdateOrders = {
    .name = "update_orders",
    .kind = BulkKind::kUpdate,
    .table = "orders o",
    .columns = kOrderChanges,
    .set =
        "status = u.to_status, failure_reason = u.reason, attempts = u.attempts,"
        " next_attempt_at_ms = u.next, updated_at_ms = u.updated",
    .where = "o.order_id = u.id AND o.status = u.from_status",
    .what = "order status changes"};
constexpr BulkStatement kRetryOrders = {
    .name = "retry_orders",
    .kind = BulkKind::kUpdate,
    .table = "orders o",
    .columns = kOrderRetries,
    .set = "attempts = u.attempts, next_attempt_at_ms = u.next, updated_at_ms = u.at",
    .where = "o.order_id = u.id AND o.status = 1 AND o.attempts < u.attempts",
    .what = "order retries"};
constexpr BulkStatement kInsertIdempotency = {.name = "insert_idempotency",
                                              .kind = BulkKind::kInsert,
                                              .table = "idempotency_keys",
                                              .columns = kIdempotencyRows,
                                              .order = RowOrder::kUnspecified};
constexpr BulkStatement kInsertAudit = {.name = "insert_audit",
                                        .kind = BulkKind::kInsert,
                                        .table = "audit_events",
                                        .columns = kAuditRows,
                                        .stamp = Stamp::kNone,
                                        .order = RowOrder::kUnspecified};
constexpr BulkStatement kInsertOutbox = {
    .name = "insert_outbox", .kind = BulkKind::kInsert, .table = "outbox", .columns = kOutboxRows};

// Every bulk statement, prepared with the statements above.
constexpr std::array<const BulkStatement*, 8> kBulkStatements = {
    &kInsertReservations, &kUpdateReservations, &kInsertOrders, &kUpdateOrders,
    &kRetryOrders,        &kInsertIdempotency,  &kInsertAudit,  &kInsertOutbox,
};

// The SQL of `statement`: see BulkKind.
std::string BulkSql(const BulkStatement& statement) {
  std::string arrays;   // $1::text[], $2::bigint[]
  std::string names;    // id, at
  std::string columns;  // u.id, u.at
  for (std::size_t index = 0; index < statement.columns.size(); ++index) {
    const UnnestColumn& column = statement.columns[index];
    const char* separator = index == 0 ? "" : ", ";
    arrays += separator;
    arrays += "$" + std::to_string(index + 1) + "::" + column.type + "[]";
    names += separator;
    names += column.name;
    columns += separator;
    columns += "u.";
    columns += column.name;
  }
  const std::string version = "$" + std::to_string(statement.columns.size() + 1);
  const std::string unnest = " FROM unnest(" + arrays + ")";
  if (statement.kind == BulkKind::kUpdate) {
    const std::string expected = "$" + std::to_string(statement.columns.size() + 2);
    return std::string("WITH changed AS (UPDATE ") + statement.table + " SET " + statement.set +
           ", version = " + version + unnest + " AS u(" + names + ") WHERE " + statement.where +
           " RETURNING 1) SELECT flashsale_expect_rows((SELECT count(*) FROM changed), " +
           expected + ", '" + statement.what + "')";
  }
  const bool stamped = statement.stamp == Stamp::kVersion;
  std::string sql = std::string("INSERT INTO ") + statement.table + " (" + names +
                    (stamped ? ", version" : "") + ") SELECT " + columns +
                    (stamped ? ", " + version : "") + unnest;
  if (statement.order == RowOrder::kAsGiven) {
    return sql + " WITH ORDINALITY AS u(" + names + ", ord) ORDER BY u.ord";
  }
  return sql + " AS u(" + names + ")";
}

PipelineStep Sql(std::string sql) { return PipelineStep{std::move(sql), false, {}}; }

PipelineStep Prepared(const char* name, std::vector<Parameter> parameters) {
  return PipelineStep{name, true, std::move(parameters)};
}

std::string Number(std::int64_t value) { return std::to_string(value); }
std::string Ms(base::Time time) { return std::to_string(base::ToMillis(time)); }
Parameter OptionalMs(const std::optional<base::Time>& time) {
  if (!time) return std::nullopt;
  return Ms(*time);
}

// ---------------------------------------------------------------------------------------------
// A batch's mutations as bulk statements. Order-sensitive mutations (those whose triggers
// check stock, user units, transitions or orders) keep their order: each run of consecutive
// same-kind mutations is one statement; a run never touches one row twice. Audit events,
// idempotency keys and outbox rows check nothing against the others and go last, one
// statement each, in their own order.
// ---------------------------------------------------------------------------------------------

class BatchStatements {
 public:
  explicit BatchStatements(std::int64_t version) : version_(Number(version)) {}

  void Add(const core::Mutation& mutation) {
    std::visit([this](const auto& m) { AddOne(m); }, mutation);
  }

  std::vector<PipelineStep> Finish() {
    Flush();
    if (idempotency_count_ > 0) {
      steps_.push_back(BulkStep(kInsertIdempotency, idempotency_, idempotency_count_));
    }
    if (audit_count_ > 0) steps_.push_back(BulkStep(kInsertAudit, audit_, audit_count_));
    if (outbox_count_ > 0) steps_.push_back(BulkStep(kInsertOutbox, outbox_, outbox_count_));
    return std::move(steps_);
  }

 private:
  // `statement` with the arrays in `columns` (cleared) for its `row_count` rows, then the
  // parameters after the arrays (see BulkStatement).
  PipelineStep BulkStep(const BulkStatement& statement, std::vector<ArrayLiteral>& columns,
                        std::size_t row_count) const {
    FS_CHECK(columns.size() == statement.columns.size());
    std::vector<Parameter> parameters;
    parameters.reserve(columns.size() + 2);
    for (auto& column : columns) parameters.emplace_back(column.Finish());
    columns.clear();
    const bool is_update = statement.kind == BulkKind::kUpdate;
    if (is_update || statement.stamp == Stamp::kVersion) parameters.emplace_back(version_);
    if (is_update) parameters.emplace_back(Number(static_cast<std::int64_t>(row_count)));
    return Prepared(statement.name, std::move(parameters));
  }

  // The arrays of `statement` (one per column), created empty when first used.
  static std::vector<ArrayLiteral>& ColumnsOf(const BulkStatement& statement,
                                              std::vector<ArrayLiteral>& columns) {
    if (columns.empty()) columns.assign(statement.columns.size(), ArrayLiteral());
    return columns;
  }

  // Starts (or continues) a run of `statement` for row `id`; another statement or a row
  // already in the run flushes first.
  std::vector<ArrayLiteral>& Row(const BulkStatement& statement, const std::string& id) {
    if (&statement != run_ || run_ids_.count(id) == 1) Flush();
    if (run_ == nullptr) {
      run_ = &statement;
      run_columns_.assign(statement.columns.size(), ArrayLiteral());
    }
    run_ids_.insert(id);
    ++run_count_;
    return run_columns_;
  }

  void Flush() {
    if (run_ != nullptr) steps_.push_back(BulkStep(*run_, run_columns_, run_count_));
    run_ = nullptr;
    run_count_ = 0;
    run_ids_.clear();
    run_columns_.clear();
  }

  void Single(PipelineStep step) {
    Flush();
    steps_.push_back(std::move(step));
  }

  void AddOne(const core::SaleCreated& m) {
    const core::Sale& sale = m.sale;
    Single(Prepared(
        "insert_sale",
        {sale.sku_id, sale.name, Number(sale.price_cents), sale.currency, Number(sale.total_stock),
         Number(sale.per_user_limit), Number(sale.reservation_ttl_seconds),
         OptionalMs(sale.starts_at), OptionalMs(sale.ends_at),
         Number(static_cast<std::int64_t>(sale.override_state)), Ms(sale.created_at), version_}));
  }
  void AddOne(const core::SaleOverrideChanged& m) {
    Single(Prepared("update_override", {Number(static_cast<std::int64_t>(m.to)), m.sku_id,
                                        Number(static_cast<std::int64_t>(m.from)), version_}));
  }
  void AddOne(const core::SaleStockChanged& m) {
    Single(Prepared("update_stock", {Number(m.to), m.sku_id, Number(m.from), version_}));
  }
  void AddOne(const core::IdempotencyPruned& m) {
    Single(Prepared("prune_idempotency", {Ms(m.before)}));
  }
  void AddOne(const core::ReservationCreated& m) {
    const core::Reservation& r = m.reservation;
    auto& c = Row(kInsertReservations, r.reservation_id);
    c[0].Text(r.reservation_id);
    c[1].Text(r.sku_id);
    c[2].Text(r.user_id);
    c[3].Int64(r.quantity);
    c[4].Int64(static_cast<std::int64_t>(r.status));
    c[5].Int64(base::ToMillis(r.created_at));
    c[6].Int64(base::ToMillis(r.expires_at));
    c[7].Int64(base::ToMillis(r.updated_at));
  }
  void AddOne(const core::ReservationStatusChanged& m) {
    auto& c = Row(kUpdateReservations, m.reservation_id);
    c[0].Text(m.reservation_id);
    c[1].Text(m.sku_id);
    c[2].Int64(static_cast<std::int64_t>(m.from));
    c[3].Int64(static_cast<std::int64_t>(m.to));
    c[4].Int64(base::ToMillis(m.at));
  }
  void AddOne(const core::OrderCreated& m) {
    const core::Order& o = m.order;
    auto& c = Row(kInsertOrders, o.order_id);
    c[0].Text(o.order_id);
    c[1].Text(o.reservation_id);
    c[2].Text(o.sku_id);
    c[3].Text(o.user_id);
    c[4].Int64(o.quantity);
    c[5].Int64(o.amount_cents);
    c[6].Text(o.currency);
    c[7].Int64(static_cast<std::int64_t>(o.status));
    c[8].Text(o.failure_reason);
    c[9].Text(o.payment_method_id);
    c[10].Int64(o.attempts);
    c[11].Int64(base::ToMillis(o.next_attempt_at));
    c[12].Int64(base::ToMillis(o.created_at));
    c[13].Int64(base::ToMillis(o.updated_at));
  }
  void AddOne(const core::OrderStatusChanged& m) {
    const core::Order& o = m.order;
    auto& c = Row(kUpdateOrders, o.order_id);
    c[0].Text(o.order_id);
    c[1].Int64(static_cast<std::int64_t>(m.from));
    c[2].Int64(static_cast<std::int64_t>(o.status));
    c[3].Text(o.failure_reason);
    c[4].Int64(o.attempts);
    c[5].Int64(base::ToMillis(o.next_attempt_at));
    c[6].Int64(base::ToMillis(o.updated_at));
  }
  void AddOne(const core::OrderRetryScheduled& m) {
    auto& c = Row(kRetryOrders, m.order_id);
    c[0].Text(m.order_id);
    c[1].Int64(m.attempts);
    c[2].Int64(base::ToMillis(m.next_attempt_at));
    c[3].Int64(base::ToMillis(m.at));
  }
  void AddOne(const core::IdempotencyStored& m) {
    const core::IdempotencyRecord& r = m.record;
    auto& c = ColumnsOf(kInsertIdempotency, idempotency_);
    c[0].Text(r.user_id);
    c[1].Text(r.key);
    c[2].Text(r.request_fingerprint);
    c[3].Int64(r.http_status);
    c[4].Text(r.response_body);
    c[5].Int64(base::ToMillis(r.created_at));
    ++idempotency_count_;
  }
  void AddOne(const core::AuditAppended& m) {
    const core::AuditEvent& e = m.event;
    auto& c = ColumnsOf(kInsertAudit, audit_);
    c[0].Int64(e.event_id);
    c[1].Text(core::AuditEventTypeName(e.type));
    c[2].OptionalText(e.user_id);
    c[3].OptionalText(e.sku_id);
    c[4].Text(core::AuditOutcomeName(e.outcome));
    c[5].OptionalText(e.failure_reason);
    c[6].Int64(base::ToMillis(e.occurred_at));
    c[7].OptionalText(e.client_ip);
    c[8].OptionalText(e.device_fingerprint);
    c[9].Text(e.metadata);
    c[10].Text(e.prev_hash);
    c[11].Text(e.event_hash);
    ++audit_count_;
  }
  void AddOne(const core::EventAppended& m) {
    const core::OutboxEvent& e = m.event;
    auto& c = ColumnsOf(kInsertOutbox, outbox_);
    c[0].Text(e.event_id);
    c[1].Text(e.type);
    c[2].Text(e.sku_id);
    c[3].Text(e.user_id);
    c[4].Int64(e.sequence);
    c[5].Int64(base::ToMillis(e.occurred_at));
    c[6].Text(e.payload_json);
    ++outbox_count_;
  }

  // The fair waiting room keeps its state in one node's memory; the engine refuses rooms on a
  // shared store (docs/operations.md), so these never reach here. If one did, the batch is
  // refused rather than half stored.
  void AddOne(const core::WaitingRoomCreated&) { unsupported_ = "a waiting room"; }
  void AddOne(const core::QueueTicketIssued&) { unsupported_ = "a queue ticket"; }
  void AddOne(const core::WaitingRoomDrawn&) { unsupported_ = "a waiting-room draw"; }
  void AddOne(const core::QueueTicketAdmitted&) { unsupported_ = "a queue admission"; }
  void AddOne(const core::QueuePassUsed&) { unsupported_ = "a queue pass use"; }

 public:
  // Empty, or what this store cannot hold.
  const std::string& unsupported() const { return unsupported_; }

 private:
  std::string unsupported_;
  const std::string version_;
  std::vector<PipelineStep> steps_;
  const BulkStatement* run_ = nullptr;  // the statement of the current run, if any
  std::vector<ArrayLiteral> run_columns_;
  std::size_t run_count_ = 0;
  std::set<std::string> run_ids_;
  std::vector<ArrayLiteral> idempotency_;
  std::vector<ArrayLiteral> audit_;
  std::vector<ArrayLiteral> outbox_;
  std::size_t idempotency_count_ = 0;
  std::size_t audit_count_ = 0;
  std::size_t outbox_count_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Row decoding. A value outside its domain means the database is not what we wrote.
// ---------------------------------------------------------------------------------------------

base::Result<std::int32_t> Int32(const pg_result* result, int row, int column) {
  auto value = pg::Int64(result, row, column);
  if (!value) return value.error();
  if (*value < INT32_MIN || *value > INT32_MAX) {
    return base::DataLoss(std::string("postgres: column ") + PQfname(result, column) +
                          " is out of 32-bit range");
  }
  return static_cast<std::int32_t>(*value);
}

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
    auto value = fs::store::Int32(result_, row_, column_++);
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
  if (!r.status().ok()) return r.status();
  return order;
}

template <typename T, typename Decode>
base::Status DecodeRows(const pg_result* result, std::vector<T>& out, Decode decode) {
  const int rows = pg::Rows(result);
  out.reserve(out.size() + static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    auto value = decode(result, row);
    if (!value) return value.error();
    out.push_back(std::move(*value));
  }
  return base::Status::Ok();
}

}  // namespace

bool IsPostgresUrl(std::string_view store) {
  return store.rfind("postgres://", 0) == 0 || store.rfind("postgresql://", 0) == 0;
}

std::string RedactedUrl(const std::string& url) {
  // scheme://user:password@host -> scheme://user:***@host
  const auto scheme_end = url.find("://");
  const auto at = url.find('@');
  if (scheme_end == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme_end + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

base::Result<std::unique_ptr<PgStore>> PgStore::Open(PgOptions options) {
  std::unique_ptr<PgStore> store(new PgStore(std::move(options)));
  auto connection = pg::Connect(store->options_.url, store->options_.session);
  if (!connection) return connection.error();
  auto version = pg::Migrate(connection->get());
  if (!version) return version.error();
  store->connection_ = std::move(*connection);
  FS_RETURN_IF_ERROR(store->PrepareStatements());
  return store;
}

PgStore::~PgStore() = default;

base::Status PgStore::PrepareStatements() {
  for (const NamedStatement& statement : kStatements) {
    FS_RETURN_IF_ERROR(pg::Prepare(connection_.get(), statement.name, statement.sql));
  }
  for (const BulkStatement* statement : kBulkStatements) {
    FS_RETURN_IF_ERROR(
        pg::Prepare(connection_.get(), statement->name, BulkSql(*statement).c_str()));
  }
  return base::Status::Ok();
}

base::Status PgStore::EnsureConnected() {
  if (pg::Healthy(connection_.get())) return base::Status::Ok();
  connection_.reset();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_connect_) return base::Unavailable("postgres: not connected (retrying soon)");
  next_connect_ = now + options_.reconnect_interval;
  auto connection = pg::Connect(options_.url, options_.session);
  if (!connection) return connection.error();
  connection_ = std::move(*connection);
  const base::Status prepared = PrepareStatements();
  if (!prepared.ok()) connection_.reset();
  return prepared;
}

base::Status PgStore::Abandon(base::Status failure) {
  in_batch_ = false;
  if (failure.code() == base::StatusCode::kUnavailable || !pg::Healthy(connection_.get())) {
    connection_.reset();  // in an unknown state (maybe mid-pipeline): start afresh
    return failure;
  }
  const base::Status rolled_back = pg::Exec(connection_.get(), "ROLLBACK", "rollback");
  if (!rolled_back.ok()) connection_.reset();
  return failure;
}

void PgStore::AddChangeSteps(std::vector<PipelineStep>& steps, std::int64_t after,
                             bool exclude_own_batch, base::Time idempotency_since) {
  const std::string from = Number(after);
  const std::string exclude = exclude_own_batch ? "1" : "0";
  steps.push_back(Prepared("changed_sales", {from, exclude}));
  steps.push_back(Prepared("changed_reservations", {from, exclude}));
  steps.push_back(Prepared("changed_idempotency", {from, exclude, Ms(idempotency_since)}));
  steps.push_back(Prepared("changed_orders", {from, exclude}));
  steps.push_back(Prepared("changed_sequences", {from, exclude}));
  steps.push_back(Prepared("audit_head", {}));
}

base::Status PgStore::DecodeChanges(const std::vector<pg::ResultHandle>& results, std::size_t first,
                                    ClusterChanges& changes) {
  FS_RETURN_IF_ERROR(DecodeRows(results[first].get(), changes.sales, DecodeSale));
  FS_RETURN_IF_ERROR(DecodeRows(results[first + 1].get(), changes.reservations, DecodeReservation));
  FS_RETURN_IF_ERROR(DecodeRows(results[first + 2].get(), changes.idempotency, DecodeIdempotency));
  FS_RETURN_IF_ERROR(DecodeRows(results[first + 3].get(), changes.orders, DecodeOrder));
  const pg_result* sequences = results[first + 4].get();
  for (int row = 0; row < pg::Rows(sequences); ++row) {
    auto sequence = pg::Int64(sequences, row, 1);
    if (!sequence) return sequence.error();
    changes.event_sequences.emplace_back(pg::Text(sequences, row, 0), *sequence);
  }
  const pg_result* head = results[first + 5].get();
  if (pg::Rows(head) == 1) {
    auto event_id = pg::Int64(head, 0, 0);
    if (!event_id) return event_id.error();
    changes.audit_head.event_id = *event_id;
    changes.audit_head.event_hash = pg::Text(head, 0, 1);
  }
  return base::Status::Ok();
}

base::Result<ClusterChanges> PgStore::BeginBatch(std::int64_t synced_through) {
  FS_CHECK(!in_batch_);
  FS_RETURN_IF_ERROR(EnsureConnected());
  // One round trip: BEGIN, the batch lock (waits for the node holding it), and the changes.
  std::vector<PipelineStep> steps;
  steps.push_back(Sql("BEGIN"));
  steps.push_back(Prepared("lock_batch", {}));
  AddChangeSteps(steps, synced_through, /*exclude_own_batch=*/true, base::Time{});
  auto results = pg::RunPipeline(connection_.get(), steps, "begin batch");
  in_batch_ = true;
  if (!results) return Abandon(results.error());
  auto batch = pg::Int64((*results)[1].get(), 0, 0);
  if (!batch) return Abandon(batch.error());
  ClusterChanges changes;
  changes.synced_through = *batch - 1;
  const base::Status decoded = DecodeChanges(*results, 2, changes);
  if (!decoded.ok()) return Abandon(decoded);
  batch_number_ = *batch;
  return changes;
}

void PgStore::AbortBatch() {
  if (!in_batch_) return;
  (void)Abandon(base::Aborted("batch abandoned"));
}

base::Result<ClusterChanges> PgStore::ReadSnapshot(std::int64_t after, base::Time idempotency_since,
                                                   std::string_view context) {
  FS_CHECK(!in_batch_);
  FS_RETURN_IF_ERROR(EnsureConnected());
  // One snapshot: every statement of a REPEATABLE READ transaction sees the same commits.
  std::vector<PipelineStep> steps;
  steps.push_back(Sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  steps.push_back(Prepared("head_batch", {}));
  AddChangeSteps(steps, after, /*exclude_own_batch=*/false, idempotency_since);
  steps.push_back(Sql("COMMIT"));
  auto results = pg::RunPipeline(connection_.get(), steps, context);
  if (!results) {
    in_batch_ = true;  // the transaction may be open
    return Abandon(results.error());
  }
  auto head = pg::Int64((*results)[1].get(), 0, 0);
  if (!head) return head.error();
  ClusterChanges changes;
  changes.synced_through = *head;
  FS_RETURN_IF_ERROR(DecodeChanges(*results, 2, changes));
  return changes;
}

base::Result<ClusterChanges> PgStore::ReadChanges(std::int64_t synced_through) {
  return ReadSnapshot(synced_through, base::Time{}, "read changes");
}

base::Result<LoadedState> PgStore::Load(base::Time idempotency_since) {
  // Everything is "changed since batch -1".
  auto all = ReadSnapshot(-1, idempotency_since, "load");
  if (!all) return all.error();
  LoadedState state;
  state.sales = std::move(all->sales);
  state.reservations = std::move(all->reservations);
  state.idempotency = std::move(all->idempotency);
  state.orders = std::move(all->orders);
  state.event_sequences = std::move(all->event_sequences);
  state.audit_head = std::move(all->audit_head);
  state.synced_through = all->synced_through;
  return state;
}

base::Status PgStore::Commit(const core::Mutations& mutations) {
  if (!in_batch_) {
    // Not inside BeginBatch (a single writer, a tool or a test): take the lock here. This
    // writer then reads its own rows back as changes later, which changes nothing.
    FS_RETURN_IF_ERROR(EnsureConnected());
    auto locked = pg::RunPipeline(connection_.get(), {Sql("BEGIN"), Prepared("lock_batch", {})},
                                  "begin commit");
    in_batch_ = true;
    if (!locked) return Abandon(locked.error());
    auto batch = pg::Int64((*locked)[1].get(), 0, 0);
    if (!batch) return Abandon(batch.error());
    batch_number_ = *batch;
  }
  BatchStatements statements(batch_number_);
  for (const core::Mutation& mutation : mutations) statements.Add(mutation);
  if (!statements.unsupported().empty()) {
    return Abandon(base::Internal("the PostgreSQL store cannot store " + statements.unsupported()));
  }
  std::vector<PipelineStep> steps = statements.Finish();
  steps.push_back(Sql("COMMIT"));
  auto results = pg::RunPipeline(connection_.get(), steps, "commit batch");
  if (!results) return Abandon(results.error());
  in_batch_ = false;
  // COMMIT of a transaction that failed reports ROLLBACK; every step succeeded here, but the
  // tag is the database's own word that the batch is durable.
  const std::string tag = PQcmdStatus(results->back().get());
  if (tag != "COMMIT") return base::Internal("postgres: commit batch: COMMIT answered " + tag);
  return base::Status::Ok();
}

base::Result<std::vector<StoredCounters>> PgStore::ReadCounters() {
  FS_RETURN_IF_ERROR(EnsureConnected());
  auto results =
      pg::RunPipeline(connection_.get(), {Prepared("read_counters", {})}, "read counters");
  if (!results) {
    if (in_batch_) return Abandon(results.error());
    connection_.reset();
    return results.error();
  }
  const pg_result* rows = results->front().get();
  std::vector<StoredCounters> counters;
  for (int row = 0; row < pg::Rows(rows); ++row) {
    StoredCounters entry;
    entry.sku_id = pg::Text(rows, row, 0);
    auto total = pg::Int64(rows, row, 1);
    auto held = pg::Int64(rows, row, 2);
    auto sold = pg::Int64(rows, row, 3);
    if (!total || !held || !sold) return base::DataLoss("postgres: skus counters unreadable");
    entry.total_stock = *total;
    entry.held = *held;
    entry.sold = *sold;
    counters.push_back(std::move(entry));
  }
  return counters;
}

}  // namespace fs::store
