#include "audit/audit_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_util.h"

namespace fs::audit {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// One row, always: how far the index reaches and the hash of that event (its identity in the
// chain: the index belongs to this database only while that event still has that hash).
constexpr const char* kSchema =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS user_events ("
    "  user_id  TEXT    NOT NULL,"
    "  event_id INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, event_id)"
    ") WITHOUT ROWID, STRICT;"
    "CREATE TABLE IF NOT EXISTS indexed ("
    "  id            INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),"
    "  through_id    INTEGER NOT NULL,"
    "  through_hash  BLOB"
    ") STRICT;"
    "INSERT OR IGNORE INTO indexed (id, through_id, through_hash) VALUES (1, 0, NULL);";

namespace sqlite = store::sqlite;
using sqlite::Stage;

base::Result<sqlite::DatabaseHandle> OpenConnection(const std::string& path, int flags) {
  return sqlite::OpenConnection(path, flags, kBusyTimeoutMs);
}

// Runs `body` between `begin` and COMMIT (ROLLBACK on failure).
template <typename Body>
base::Status InTransaction(sqlite3* db, const char* begin, Body&& body) {
  FS_RETURN_IF_ERROR(sqlite::Exec(db, begin, Stage::kRead, begin));
  base::Status status = body();
  if (!status.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  base::Status committed = sqlite::Exec(db, "COMMIT", Stage::kCommit, "COMMIT");
  if (!committed.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return committed;
}

// Creates the index's tables in `index_path`; a file that is not an index we can use (a
// damaged file) is replaced: the index is derived data.
base::Result<sqlite::DatabaseHandle> OpenIndex(const std::string& index_path) {
  auto index = OpenConnection(index_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!index) return index.error();
  if (sqlite3_exec(index->get(), kSchema, nullptr, nullptr, nullptr) == SQLITE_OK) return index;
  index->reset();
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(index_path + suffix, ignored);
  }
  index = OpenConnection(index_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!index) return index.error();
  FS_RETURN_IF_ERROR(sqlite::Exec(index->get(), kSchema, Stage::kOpen, "create " + index_path));
  return index;
}

}  // namespace

std::string AuditIndexPath(const std::string& database_path) {
  return (std::filesystem::path(database_path).parent_path() / "audit_index.db").string();
}

base::Result<std::unique_ptr<AuditIndexer>> AuditIndexer::Open(const std::string& database_path,
                                                               Options options) {
  if (!std::filesystem::exists(database_path)) {
    return base::NotFound("no database at " + database_path);
  }
  auto database = OpenConnection(database_path, SQLITE_OPEN_READONLY);
  if (!database) return database.error();
  auto index = OpenIndex(AuditIndexPath(database_path));
  if (!index) return index.error();
  return std::unique_ptr<AuditIndexer>(
      new AuditIndexer(std::move(*database), std::move(*index), options));
}

AuditIndexer::AuditIndexer(store::sqlite::DatabaseHandle database,
                           store::sqlite::DatabaseHandle index, Options options)
    : database_(std::move(database)), index_(std::move(index)), options_(options) {}

AuditIndexer::~AuditIndexer() {
  {
    base::MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.NotifyOne();
  if (thread_.joinable()) thread_.join();
}

void AuditIndexer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AuditIndexer::Run() {
  while (true) {
    const base::Result<std::int64_t> indexed = CatchUp();
    base::MutexLock lock(mutex_);
    if (!indexed) ++errors_;
    const auto deadline = std::chrono::steady_clock::now() + options_.interval;
    while (!stopping_ && wake_.WaitUntil(mutex_, deadline)) {
    }
    if (stopping_) return;
  }
}

base::Result<std::int64_t> AuditIndexer::CatchUp() {
  std::int64_t total = 0;
  while (true) {
    auto indexed = IndexChunk();
    if (!indexed) return indexed.error();
    total += *indexed;
    if (*indexed < options_.chunk_events) return total;
    base::MutexLock lock(mutex_);
    if (stopping_) return total;
  }
}

base::Result<AuditIndexer::Chunk> AuditIndexer::ReadChunk() {
  // Where the index reaches, and whether that event is still the same in the database.
  Chunk chunk;
  {
    auto read = sqlite::Prepare(
        index_.get(), "SELECT through_id, through_hash FROM indexed WHERE id = 1", 0, Stage::kRead);
    if (!read) return read.error();
    FS_RETURN_IF_ERROR(sqlite::StepRow(index_.get(), read->get(), "read the index position"));
    chunk.through_id = sqlite::ColumnInt64(read->get(), 0);
    chunk.through_hash = std::string(sqlite::ColumnBlob(read->get(), 1));
  }
  chunk.last_id = chunk.through_id;
  chunk.last_hash = chunk.through_hash;
  sqlite3* db = database_.get();
  FS_RETURN_IF_ERROR(InTransaction(db, "BEGIN", [&]() -> base::Status {
    if (chunk.through_id > 0) {
      auto check = sqlite::Prepare(db, "SELECT event_hash FROM audit_events WHERE event_id = ?1", 0,
                                   Stage::kRead);
      if (!check) return check.error();
      sqlite::Binder(check->get()).Int64(chunk.through_id);
      const int rc = sqlite3_step(check->get());
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return sqlite::ErrorFrom(rc, db, Stage::kRead, "check the index");
      }
      if (rc == SQLITE_DONE || sqlite::ColumnBlob(check->get(), 0) != chunk.through_hash) {
        chunk.rebuild = true;  // not this database's chain (restored, replaced or rewritten)
        chunk.last_id = 0;
        chunk.last_hash.clear();
      }
    }
    auto events = sqlite::Prepare(db,
                                  "SELECT event_id, user_id, event_hash FROM audit_events"
                                  " WHERE event_id > ?1 ORDER BY event_id LIMIT ?2",
                                  0, Stage::kRead);
    if (!events) return events.error();
    sqlite::Binder(events->get()).Int64(chunk.last_id).Int64(options_.chunk_events);
    return sqlite::ForEachRow(
        db, events->get(), "read the events to index", [&](sqlite3_stmt* row) {
          ++chunk.read_events;
          chunk.last_id = sqlite::ColumnInt64(row, 0);
          if (!sqlite::ColumnIsNull(row, 1)) {
            chunk.entries.push_back({sqlite::ColumnText(row, 1), chunk.last_id});
          }
          // The bytes, whether BLOB or (not migrated) hex text.
          chunk.last_hash = std::string(sqlite::ColumnBlob(row, 2));
          return base::Status::Ok();
        });
  }));
  return chunk;
}

base::Status AuditIndexer::WriteChunk(Chunk& chunk) {
  // In key order: neighbouring entries share pages, so each page is written once per chunk.
  std::sort(chunk.entries.begin(), chunk.entries.end(), [](const Entry& a, const Entry& b) {
    return a.user_id != b.user_id ? a.user_id < b.user_id : a.event_id < b.event_id;
  });
  sqlite3* db = index_.get();
  return InTransaction(db, "BEGIN IMMEDIATE", [&]() -> base::Status {
    if (chunk.rebuild) {
      FS_RETURN_IF_ERROR(
          sqlite::Exec(db, "DELETE FROM user_events", Stage::kApply, "clear the index"));
    }
    auto insert =
        sqlite::Prepare(db, "INSERT OR IGNORE INTO user_events (user_id, event_id) VALUES (?1, ?2)",
                        0, Stage::kApply);
    if (!insert) return insert.error();
    for (const Entry& entry : chunk.entries) {
      sqlite::StatementUse use(insert->get());
      sqlite::Binder binder(insert->get());
      binder.Text(entry.user_id).Int64(entry.event_id);
      FS_RETURN_IF_ERROR(sqlite::StepWrite(db, insert->get(), binder, "insert into the index"));
    }
    auto position = sqlite::Prepare(
        db, "UPDATE indexed SET through_id = ?1, through_hash = ?2 WHERE id = 1", 0, Stage::kApply);
    if (!position) return position.error();
    sqlite::Binder binder(position->get());
    binder.Int64(chunk.last_id);
    if (chunk.last_hash.empty()) {
      binder.Null();
    } else {
      binder.Blob(chunk.last_hash);
    }
    return sqlite::StepWrite(db, position->get(), binder, "save the position");
  });
}

base::Result<std::int64_t> AuditIndexer::IndexChunk() {
  auto chunk = ReadChunk();
  if (!chunk) return chunk.error();
  if (chunk->read_events == 0 && !chunk->rebuild) {
    base::MutexLock lock(mutex_);
    indexed_through_ = chunk->through_id;
    return std::int64_t{0};
  }
  FS_RETURN_IF_ERROR(WriteChunk(*chunk));
  base::MutexLock lock(mutex_);
  indexed_through_ = chunk->last_id;
  if (chunk->rebuild) ++rebuilds_;
  return chunk->read_events;
}

std::int64_t AuditIndexer::indexed_through() const {
  base::MutexLock lock(mutex_);
  return indexed_through_;
}

std::uint64_t AuditIndexer::rebuilds() const {
  base::MutexLock lock(mutex_);
  return rebuilds_;
}

std::uint64_t AuditIndexer::errors() const {
  base::MutexLock lock(mutex_);
  return errors_;
}

}  // namespace fs::audit
