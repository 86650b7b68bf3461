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
#include "store/postgres/pg_batch.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"

namespace fs::store {
namespace {

using pg::Ms;
using pg::Number;
using pg::Parameter;
using pg::PipelineStep;
using pg::Prepared;
using pg::Sql;

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

constexpr std::array<NamedStatement, 17> kStatements = {{
    {"lock_batch", "UPDATE cluster_head SET batch = batch + 1 WHERE id = 1 RETURNING batch"},
    {"head_batch", "SELECT batch FROM cluster_head WHERE id = 1"},
    {"changed_sales",
     "SELECT sku_id, name, price_cents, currency, total_stock, per_user_limit,"
     " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms,"
     " description, image_url, category, tags FROM skus WHERE" FS_PG_WINDOW},
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
     " updated_at_ms, buyer_email, request_id FROM orders WHERE" FS_PG_WINDOW},
    {"changed_sequences",
     "SELECT sku_id, MAX(sku_sequence) FROM outbox WHERE" FS_PG_WINDOW " GROUP BY sku_id"},
    {"audit_head", "SELECT event_id, event_hash FROM audit_events ORDER BY event_id DESC LIMIT 1"},
    {"read_counters", "SELECT sku_id, total_stock, held, sold FROM skus ORDER BY sku_id"},
    // Recovery loads what the writer decides with: active reservations, open orders, and the
    // counts of what ended (the counters above and every user's units).
    {"load_reservations",
     "SELECT reservation_id, sku_id, user_id, quantity, status, created_at_ms, expires_at_ms,"
     " updated_at_ms FROM reservations WHERE status IN (1, 2) AND" FS_PG_WINDOW},
    {"load_orders",
     "SELECT order_id, reservation_id, sku_id, user_id, quantity, amount_cents, currency,"
     " status, failure_reason, payment_method_id, attempts, next_attempt_at_ms, created_at_ms,"
     " updated_at_ms, buyer_email, request_id FROM orders WHERE status IN (1, 4) AND" FS_PG_WINDOW},
    {"load_user_units", "SELECT sku_id, user_id, units FROM user_units WHERE units > 0"},
    {"insert_sale",
     "INSERT INTO skus (sku_id, name, price_cents, currency, total_stock, per_user_limit,"
     " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms,"
     " version, description, image_url, category, tags)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"},
    {"update_details",
     "WITH changed AS (UPDATE skus SET description = $1, image_url = $2, category = $3,"
     " tags = $4, name = $5, version = $7 WHERE sku_id = $6 RETURNING 1)"
     " SELECT flashsale_expect_rows((SELECT count(*) FROM changed), 1, 'sale details')"},
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
  for (const pg::NamedSql& statement : pg::BulkStatementsSql()) {
    FS_RETURN_IF_ERROR(pg::Prepare(connection_.get(), statement.name, statement.sql.c_str()));
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
  base::Status prepared = PrepareStatements();
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
                             bool exclude_own_batch, base::Time idempotency_since, bool load) {
  const std::string from = Number(after);
  const std::string exclude = exclude_own_batch ? "1" : "0";
  steps.push_back(Prepared("changed_sales", {from, exclude}));
  steps.push_back(Prepared(load ? "load_reservations" : "changed_reservations", {from, exclude}));
  steps.push_back(Prepared("changed_idempotency", {from, exclude, Ms(idempotency_since)}));
  steps.push_back(Prepared(load ? "load_orders" : "changed_orders", {from, exclude}));
  steps.push_back(Prepared("changed_sequences", {from, exclude}));
  steps.push_back(Prepared("audit_head", {}));
}

base::Status PgStore::DecodeChanges(const std::vector<pg::ResultHandle>& results, std::size_t first,
                                    ClusterChanges& changes) {
  FS_RETURN_IF_ERROR(pg::DecodeRows(results[first].get(), changes.sales, pg::DecodeSale));
  FS_RETURN_IF_ERROR(
      pg::DecodeRows(results[first + 1].get(), changes.reservations, pg::DecodeReservation));
  FS_RETURN_IF_ERROR(
      pg::DecodeRows(results[first + 2].get(), changes.idempotency, pg::DecodeIdempotency));
  FS_RETURN_IF_ERROR(pg::DecodeRows(results[first + 3].get(), changes.orders, pg::DecodeOrder));
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
  AddChangeSteps(steps, synced_through, /*exclude_own_batch=*/true, base::Time{}, false);
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
                                                   std::string_view context, LoadedState* load) {
  FS_CHECK(!in_batch_);
  FS_RETURN_IF_ERROR(EnsureConnected());
  // One snapshot: every statement of a REPEATABLE READ transaction sees the same commits.
  std::vector<PipelineStep> steps;
  steps.push_back(Sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  steps.push_back(Prepared("head_batch", {}));
  AddChangeSteps(steps, after, /*exclude_own_batch=*/false, idempotency_since, load != nullptr);
  if (load != nullptr) {
    steps.push_back(Prepared("read_counters", {}));
    steps.push_back(Prepared("load_user_units", {}));
  }
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
  if (load != nullptr) {
    FS_RETURN_IF_ERROR(pg::DecodeRows((*results)[8].get(), load->counters, pg::DecodeCounters));
    const pg_result* units = (*results)[9].get();
    for (int row = 0; row < pg::Rows(units); ++row) {
      auto count = pg::Int64(units, row, 2);
      if (!count) return count.error();
      if (*count > INT32_MAX) return base::DataLoss("postgres: user_units row out of range");
      load->user_units.push_back(
          {pg::Text(units, row, 0), pg::Text(units, row, 1), static_cast<std::int32_t>(*count)});
    }
  }
  return changes;
}

base::Result<ClusterChanges> PgStore::ReadChanges(std::int64_t synced_through) {
  return ReadSnapshot(synced_through, base::Time{}, "read changes");
}

base::Result<LoadedState> PgStore::Load(base::Time idempotency_since) {
  // Everything the writer needs is "changed since batch -1"; ended rows are left out.
  LoadedState state;
  auto all = ReadSnapshot(-1, idempotency_since, "load", &state);
  if (!all) return all.error();
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
  pg::BatchPlan plan = pg::PlanBatch(mutations, batch_number_);
  if (!plan.unsupported.empty()) {
    return Abandon(base::Internal("the PostgreSQL store cannot store " + plan.unsupported));
  }
  std::vector<PipelineStep> steps = std::move(plan.steps);
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
  std::vector<StoredCounters> counters;
  FS_RETURN_IF_ERROR(pg::DecodeRows(results->front().get(), counters, pg::DecodeCounters));
  return counters;
}

}  // namespace fs::store
