#include "store/sqlite/sqlite_outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <climits>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_util.h"

namespace fs::store {

using sqlite::Stage;

namespace {

// 5 s: the writer's batches hold the write lock for milliseconds; a longer wait means trouble
// and the relay retries later anyway.
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

base::Result<std::unique_ptr<SqliteOutbox>> SqliteOutbox::Open(const std::string& path) {
  auto db = sqlite::OpenConnection(path, SQLITE_OPEN_READWRITE, kBusyTimeoutMs);
  if (!db) {
    return base::FailedPrecondition("open outbox connection: " + db.error().message());
  }
  const base::Status setup =
      sqlite::Exec(db->get(), "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                   Stage::kOpen, "configure outbox connection");
  if (!setup.ok()) return base::FailedPrecondition(setup.message());
  // Checkpoints belong to the writer's store (sqlite_checkpointer.h): the relay's cursor
  // commits must not start one of their own on the relay's thread.
  sqlite3_wal_autocheckpoint(db->get(), 0);
  return std::unique_ptr<SqliteOutbox>(new SqliteOutbox(std::move(*db)));
}

SqliteOutbox::~SqliteOutbox() = default;

base::Result<std::int64_t> SqliteOutbox::LoadCursor(const std::string& sink) {
  auto statement = sqlite::Prepare(db_.get(), "SELECT last_id FROM outbox_cursors WHERE sink = ?1",
                                   0, Stage::kRead);
  if (!statement) return statement.error();
  sqlite::Binder binder(statement->get());
  binder.Text(sink);
  if (binder.rc() != SQLITE_OK) {
    return sqlite::ErrorFrom(binder.rc(), db_.get(), Stage::kRead, "load outbox cursor");
  }
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return std::int64_t{0};
  if (rc != SQLITE_ROW) return sqlite::ErrorFrom(rc, db_.get(), Stage::kRead, "load outbox cursor");
  return sqlite::ColumnInt64(statement->get(), 0);
}

base::Result<std::int64_t> SqliteOutbox::LastId() {
  auto statement =
      sqlite::Prepare(db_.get(), "SELECT COALESCE(MAX(id), 0) FROM outbox", 0, Stage::kRead);
  if (!statement) return statement.error();
  const int rc = sqlite3_step(statement->get());
  if (rc != SQLITE_ROW) return sqlite::ErrorFrom(rc, db_.get(), Stage::kRead, "outbox last id");
  return sqlite::ColumnInt64(statement->get(), 0);
}

base::Result<std::vector<StoredEvent>> SqliteOutbox::ReadAfter(std::int64_t after_id,
                                                               std::size_t count_max) {
  if (read_after_ == nullptr) {
    auto statement = sqlite::Prepare(
        db_.get(), std::string(sqlite::kSelectOutbox) + " WHERE id > ?1 ORDER BY id LIMIT ?2",
        SQLITE_PREPARE_PERSISTENT, Stage::kRead);
    if (!statement) return statement.error();
    read_after_ = std::move(*statement);
  }
  sqlite3_stmt* statement = read_after_.get();
  // Reset on every way out: a statement left mid-read would keep its snapshot (and pin the WAL).
  sqlite::StatementUse use(statement);
  sqlite::Binder binder(statement);
  binder.Int64(after_id).Int64(
      static_cast<std::int64_t>(std::min<std::size_t>(count_max, INT_MAX)));
  if (binder.rc() != SQLITE_OK) {
    return sqlite::ErrorFrom(binder.rc(), db_.get(), Stage::kRead, "read outbox");
  }
  std::vector<StoredEvent> events;
  FS_RETURN_IF_ERROR(
      sqlite::ForEachRow(db_.get(), statement, "read outbox", [&](sqlite3_stmt* row) {
        events.emplace_back();
        sqlite::DecodeOutboxEvent(row, events.back());
        return base::Status::Ok();
      }));
  return events;
}

base::Status SqliteOutbox::SaveCursor(const std::string& sink, std::int64_t last_id) {
  auto statement = sqlite::Prepare(db_.get(),
                                   "INSERT INTO outbox_cursors (sink, last_id) VALUES (?1, ?2)"
                                   " ON CONFLICT (sink) DO UPDATE SET last_id = excluded.last_id"
                                   " WHERE excluded.last_id > outbox_cursors.last_id",
                                   0, Stage::kApply);
  if (!statement) return statement.error();
  sqlite::Binder binder(statement->get());
  binder.Text(sink).Int64(last_id);
  return sqlite::StepWrite(db_.get(), statement->get(), binder, "save outbox cursor");
}

}  // namespace fs::store
