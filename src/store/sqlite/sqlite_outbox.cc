#include "store/sqlite/sqlite_outbox.h"

#include <sqlite3.h>

#include <climits>

namespace fs::store {
namespace {

base::Status Failure(sqlite3* db, int rc, const std::string& context) {
  std::string message = context + ": " + sqlite3_errmsg(db) + " (" + sqlite3_errstr(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return base::Unavailable(std::move(message));
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return base::DataLoss(std::move(message));
    default:
      return base::Internal(std::move(message));
  }
}

base::Result<sqlite_internal::StatementHandle> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  sqlite_internal::StatementHandle statement(raw);
  if (rc != SQLITE_OK || statement == nullptr) return Failure(db, rc, "prepare");
  return statement;
}

std::string Text(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  if (text == nullptr || size <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

}  // namespace

base::Result<std::unique_ptr<SqliteOutbox>> SqliteOutbox::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  sqlite_internal::DatabaseHandle db(raw);
  if (rc != SQLITE_OK) {
    return base::FailedPrecondition("open outbox connection " + path + ": " +
                                    (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  // 5 s: the writer's batches hold the write lock for milliseconds; a longer wait means trouble
  // and the relay retries later anyway.
  const char* setup =
      "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";
  char* error = nullptr;
  if (sqlite3_exec(db.get(), setup, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string detail = error != nullptr ? error : "unknown";
    sqlite3_free(error);
    return base::FailedPrecondition("configure outbox connection: " + detail);
  }
  // Checkpoints belong to the writer's store (sqlite_checkpointer.h): the relay's cursor
  // commits must not start one of their own on the relay's thread.
  sqlite3_wal_autocheckpoint(db.get(), 0);
  return std::unique_ptr<SqliteOutbox>(new SqliteOutbox(std::move(db)));
}

SqliteOutbox::~SqliteOutbox() = default;

base::Result<std::int64_t> SqliteOutbox::LoadCursor(const std::string& sink) {
  auto statement = Prepare(db_.get(), "SELECT last_id FROM outbox_cursors WHERE sink = ?1");
  if (!statement) return statement.error();
  sqlite3_bind_text(statement->get(), 1, sink.c_str(), static_cast<int>(sink.size()),
                    SQLITE_TRANSIENT);
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return std::int64_t{0};
  if (rc != SQLITE_ROW) return Failure(db_.get(), rc, "load outbox cursor");
  return static_cast<std::int64_t>(sqlite3_column_int64(statement->get(), 0));
}

base::Result<std::vector<StoredEvent>> SqliteOutbox::ReadAfter(std::int64_t after_id,
                                                               std::size_t count_max) {
  if (read_after_ == nullptr) {
    auto statement = Prepare(db_.get(),
                             "SELECT id, event_id, type, sku_id, user_id, sku_sequence,"
                             " occurred_at_ms, payload FROM outbox WHERE id > ?1"
                             " ORDER BY id LIMIT ?2");
    if (!statement) return statement.error();
    read_after_ = std::move(*statement);
  }
  sqlite3_stmt* s = read_after_.get();
  // Reset on every way out: a statement left mid-read would keep its snapshot (and pin the WAL).
  struct ResetOnExit {
    sqlite3_stmt* statement;
    ~ResetOnExit() { sqlite3_reset(statement); }
  } reset_on_exit{s};
  sqlite3_bind_int64(s, 1, after_id);
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(std::min<std::size_t>(count_max, INT_MAX)));
  std::vector<StoredEvent> events;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Failure(db_.get(), rc, "read outbox");
    StoredEvent stored;
    stored.id = sqlite3_column_int64(s, 0);
    stored.event.event_id = Text(s, 1);
    stored.event.type = Text(s, 2);
    stored.event.sku_id = Text(s, 3);
    stored.event.user_id = Text(s, 4);
    stored.event.sequence = sqlite3_column_int64(s, 5);
    stored.event.occurred_at = base::TimeFromMillis(sqlite3_column_int64(s, 6));
    stored.event.payload_json = Text(s, 7);
    events.push_back(std::move(stored));
  }
  return events;
}

base::Status SqliteOutbox::SaveCursor(const std::string& sink, std::int64_t last_id) {
  auto statement = Prepare(db_.get(),
                           "INSERT INTO outbox_cursors (sink, last_id) VALUES (?1, ?2)"
                           " ON CONFLICT (sink) DO UPDATE SET last_id = excluded.last_id"
                           " WHERE excluded.last_id > outbox_cursors.last_id");
  if (!statement) return statement.error();
  sqlite3_bind_text(statement->get(), 1, sink.c_str(), static_cast<int>(sink.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(statement->get(), 2, last_id);
  const int rc = sqlite3_step(statement->get());
  if (rc != SQLITE_DONE) return Failure(db_.get(), rc, "save outbox cursor");
  return base::Status::Ok();
}

}  // namespace fs::store
