#include "store/postgres/pg_outbox.h"

#include <libpq-fe.h>

#include <algorithm>
#include <utility>

namespace fs::store {
namespace {

// The advisory lock of a sink's leader: one 64-bit key per sink name.
constexpr const char* kTryLeadSql =
    "SELECT pg_try_advisory_lock(hashtextextended('flashsale.outbox.' || $1, 0))";
constexpr const char* kCursorSql = "SELECT last_id FROM outbox_cursors WHERE sink = $1";
constexpr const char* kReadSql =
    "SELECT id, event_id, type, sku_id, user_id, sku_sequence, occurred_at_ms, payload"
    " FROM outbox WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint";
constexpr const char* kLastIdSql = "SELECT COALESCE(MAX(id), 0) FROM outbox";
constexpr const char* kSaveSql =
    "INSERT INTO outbox_cursors (sink, last_id) VALUES ($1, $2::bigint)"
    " ON CONFLICT (sink) DO UPDATE SET last_id = GREATEST(outbox_cursors.last_id,"
    " EXCLUDED.last_id)";
// Takes the lease when it is free, run out, or ours; never waits for a row lock (a batch may
// be settling the order right now: then the next poll tries again).
constexpr const char* kClaimSql =
    "WITH candidate AS (SELECT order_id FROM orders WHERE order_id = $1 AND status = 1"
    " AND (lease_owner IS NULL OR lease_owner = $2"
    " OR lease_until_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE orders o SET lease_owner = $2,"
    " lease_until_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3::bigint"
    " FROM candidate WHERE o.order_id = candidate.order_id RETURNING 1";

base::Result<pg::ResultHandle> Run(pg_conn* connection, const char* sql,
                                   std::vector<pg::Parameter> parameters,
                                   std::string_view context) {
  std::vector<pg::PipelineStep> steps;
  steps.push_back(pg::PipelineStep{sql, false, std::move(parameters)});
  auto results = pg::RunPipeline(connection, steps, context);
  if (!results) return results.error();
  return std::move(results->front());
}

}  // namespace

base::Result<std::unique_ptr<PgOutbox>> PgOutbox::Open(const std::string& url) {
  std::unique_ptr<PgOutbox> outbox(new PgOutbox(url));
  FS_RETURN_IF_ERROR(outbox->EnsureConnected());
  return outbox;
}

PgOutbox::~PgOutbox() = default;

base::Status PgOutbox::EnsureConnected() {
  if (pg::Healthy(connection_.get())) return base::Status::Ok();
  leader_ = false;  // the lock went with the old session
  connection_.reset();
  auto connection = pg::Connect(url_, pg::SessionOptions{});
  if (!connection) return connection.error();
  connection_ = std::move(*connection);
  return base::Status::Ok();
}

base::Result<std::int64_t> PgOutbox::StoredCursor(const std::string& sink) {
  auto result = Run(connection_.get(), kCursorSql, {sink}, "load outbox cursor");
  if (!result) return result.error();
  if (pg::Rows(result->get()) == 0) return std::int64_t{0};
  return pg::Int64(result->get(), 0, 0);
}

base::Result<std::int64_t> PgOutbox::LoadCursor(const std::string& sink) {
  sink_ = sink;
  FS_RETURN_IF_ERROR(EnsureConnected());
  return StoredCursor(sink);
}

base::Result<bool> PgOutbox::TryLead() {
  auto result = Run(connection_.get(), kTryLeadSql, {sink_}, "outbox leader lock");
  if (!result) return result.error();
  if (pg::Text(result->get(), 0, 0) != "t") return false;
  auto cursor = StoredCursor(sink_);
  if (!cursor) return cursor.error();
  floor_ = *cursor;
  leader_ = true;
  return true;
}

base::Result<std::int64_t> PgOutbox::LastId() {
  FS_RETURN_IF_ERROR(EnsureConnected());
  auto result = Run(connection_.get(), kLastIdSql, {}, "outbox last id");
  if (!result) {
    connection_.reset();
    leader_ = false;
    return result.error();
  }
  return pg::Int64(result->get(), 0, 0);
}

base::Result<std::vector<StoredEvent>> PgOutbox::ReadAfter(std::int64_t after_id,
                                                           std::size_t count_max) {
  FS_RETURN_IF_ERROR(EnsureConnected());
  if (!leader_) {
    auto led = TryLead();
    if (!led) {
      connection_.reset();
      return led.error();
    }
    if (!*led) return std::vector<StoredEvent>();  // another node publishes this sink
  }
  const std::int64_t after = std::max(after_id, floor_);
  auto result = Run(connection_.get(), kReadSql, {std::to_string(after), std::to_string(count_max)},
                    "read outbox");
  if (!result) {
    connection_.reset();
    leader_ = false;
    return result.error();
  }
  const pg_result* rows = result->get();
  std::vector<StoredEvent> events;
  events.reserve(static_cast<std::size_t>(pg::Rows(rows)));
  for (int row = 0; row < pg::Rows(rows); ++row) {
    StoredEvent stored;
    auto id = pg::Int64(rows, row, 0);
    auto sequence = pg::Int64(rows, row, 5);
    auto occurred = pg::Int64(rows, row, 6);
    if (!id || !sequence || !occurred) return base::DataLoss("postgres: outbox row unreadable");
    stored.id = *id;
    stored.event.event_id = pg::Text(rows, row, 1);
    stored.event.type = pg::Text(rows, row, 2);
    stored.event.sku_id = pg::Text(rows, row, 3);
    stored.event.user_id = pg::Text(rows, row, 4);
    stored.event.sequence = *sequence;
    stored.event.occurred_at = base::TimeFromMillis(*occurred);
    stored.event.payload_json = pg::Text(rows, row, 7);
    events.push_back(std::move(stored));
  }
  return events;
}

base::Status PgOutbox::SaveCursor(const std::string& sink, std::int64_t last_id) {
  if (!leader_) return base::Status::Ok();  // the leader saves its own progress
  FS_RETURN_IF_ERROR(EnsureConnected());
  auto result =
      Run(connection_.get(), kSaveSql, {sink, std::to_string(last_id)}, "save outbox cursor");
  if (!result) {
    connection_.reset();
    leader_ = false;
    return result.error();
  }
  return base::Status::Ok();
}

base::Result<std::unique_ptr<PgOrderLeases>> PgOrderLeases::Open(const std::string& url,
                                                                 std::string node_id,
                                                                 std::chrono::milliseconds lease) {
  std::unique_ptr<PgOrderLeases> leases(new PgOrderLeases(url, std::move(node_id), lease));
  auto connection = pg::Connect(url, pg::SessionOptions{});
  if (!connection) return connection.error();
  {
    base::MutexLock lock(leases->mutex_);
    leases->connection_ = std::move(*connection);
  }
  return leases;
}

bool PgOrderLeases::TryClaim(const core::Order& order) {
  base::MutexLock lock(mutex_);
  if (!pg::Healthy(connection_.get())) {
    connection_.reset();
    auto connection = pg::Connect(url_, pg::SessionOptions{});
    if (!connection) return false;
    connection_ = std::move(*connection);
  }
  auto result = Run(connection_.get(), kClaimSql,
                    {order.order_id, node_id_, std::to_string(lease_.count())}, "claim order");
  if (!result) {
    connection_.reset();
    return false;
  }
  return pg::Rows(result->get()) == 1;
}

}  // namespace fs::store
