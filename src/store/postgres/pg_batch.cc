#include "store/postgres/pg_batch.h"

#include <array>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include "base/check.h"
#include "core/rules.h"

namespace fs::store::pg {
namespace {

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
    {"created_at_ms", "bigint"},   {"updated_at_ms", "bigint"}, {"buyer_email", "text"},
    {"request_id", "text"},
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
         Number(static_cast<std::int64_t>(sale.override_state)), Ms(sale.created_at), version_,
         Nullable(sale.details.description), Nullable(sale.details.image_url),
         Nullable(sale.details.category), Nullable(core::JoinTags(sale.details.tags))}));
  }
  void AddOne(const core::SaleDetailsChanged& m) {
    Single(Prepared("update_details",
                    {Nullable(m.details.description), Nullable(m.details.image_url),
                     Nullable(m.details.category), Nullable(core::JoinTags(m.details.tags)), m.name,
                     m.sku_id, version_}));
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
    c[14].OptionalText(o.buyer_email.empty() ? std::nullopt
                                             : std::optional<std::string>(o.buyer_email));
    c[15].OptionalText(o.request_id.empty() ? std::nullopt
                                            : std::optional<std::string>(o.request_id));
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

}  // namespace

std::vector<NamedSql> BulkStatementsSql() {
  std::vector<NamedSql> statements;
  statements.reserve(kBulkStatements.size());
  for (const BulkStatement* statement : kBulkStatements) {
    statements.push_back({statement->name, BulkSql(*statement)});
  }
  return statements;
}

BatchPlan PlanBatch(const core::Mutations& mutations, std::int64_t version) {
  BatchStatements statements(version);
  for (const core::Mutation& mutation : mutations) statements.Add(mutation);
  BatchPlan plan;
  plan.unsupported = statements.unsupported();
  plan.steps = statements.Finish();
  return plan;
}

}  // namespace fs::store::pg
