#include "audit/audit_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/sqlite_util.h"

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

using sqlite_util::Blob;
using sqlite_util::Statement;
using sqlite_util::Text;

base::Status Error(sqlite3* db, std::string_view what) { return sqlite_util::SqlError(db, what); }

base::Result<sqlite3*> OpenConnection(const std::string& path, int flags) {
  return sqlite_util::OpenConnection(path, flags, kBusyTimeoutMs);
}

// Runs `body` between BEGIN and COMMIT (ROLLBACK on failure).
template <typename Body>
base::Status InTransaction(sqlite3* db, const char* begin, Body&& body) {
  if (sqlite3_exec(db, begin, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(db, begin);
  base::Status status = body();
  if (!status.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    base::Status failed = Error(db, "COMMIT");
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return base::Status::Ok();
}

struct Entry {
  std::string user_id;
  std::int64_t event_id = 0;
};

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
  const std::string index_path = AuditIndexPath(database_path);
  auto index = OpenConnection(index_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (index && sqlite3_exec(*index, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    // Not an index we can use (a damaged file): it is derived data, so start a new one.
    sqlite3_close_v2(*index);
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(index_path + suffix, ignored);
    }
    index = OpenConnection(index_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (index && sqlite3_exec(*index, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
      base::Status failed = Error(*index, "create " + index_path);
      sqlite3_close_v2(*index);
      sqlite3_close_v2(*database);
      return failed;
    }
  }
  if (!index) {
    sqlite3_close_v2(*database);
    return index.error();
  }
  return std::unique_ptr<AuditIndexer>(new AuditIndexer(*database, *index, options));
}

AuditIndexer::AuditIndexer(sqlite3* database, sqlite3* index, Options options)
    : database_(database), index_(index), options_(options) {}

AuditIndexer::~AuditIndexer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  sqlite3_close_v2(index_);
  sqlite3_close_v2(database_);
}

void AuditIndexer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AuditIndexer::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const base::Result<std::int64_t> indexed = CatchUp();
    lock.lock();
    if (!indexed) ++errors_;
    wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

base::Result<std::int64_t> AuditIndexer::CatchUp() {
  std::int64_t total = 0;
  while (true) {
    auto indexed = IndexChunk();
    if (!indexed) return indexed.error();
    total += *indexed;
    if (*indexed < options_.chunk_events) return total;
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return total;
  }
}

base::Result<std::int64_t> AuditIndexer::IndexChunk() {
  // Where the index reaches, and whether that event is still the same in the database.
  std::int64_t through_id = 0;
  std::string through_hash;
  {
    Statement read(index_, "SELECT through_id, through_hash FROM indexed WHERE id = 1");
    if (!read.ok() || sqlite3_step(read.get()) != SQLITE_ROW) {
      return Error(index_, "read the index position");
    }
    through_id = sqlite3_column_int64(read.get(), 0);
    through_hash = Blob(read.get(), 1);
  }
  std::vector<Entry> entries;
  std::int64_t last_id = through_id;
  std::string last_hash = through_hash;
  std::int64_t read_events = 0;
  bool rebuild = false;
  base::Status read_status = InTransaction(database_, "BEGIN", [&]() -> base::Status {
    if (through_id > 0) {
      Statement check(database_, "SELECT event_hash FROM audit_events WHERE event_id = ?1");
      if (!check.ok()) return Error(database_, "prepare the index check");
      sqlite3_bind_int64(check.get(), 1, through_id);
      const int rc = sqlite3_step(check.get());
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(database_, "check the index");
      if (rc == SQLITE_DONE || Blob(check.get(), 0) != through_hash) {
        rebuild = true;  // not this database's chain (restored, replaced or rewritten)
        last_id = 0;
        last_hash.clear();
      }
    }
    Statement events(database_,
                     "SELECT event_id, user_id, event_hash FROM audit_events"
                     " WHERE event_id > ?1 ORDER BY event_id LIMIT ?2");
    if (!events.ok()) return Error(database_, "prepare the index read");
    sqlite3_bind_int64(events.get(), 1, last_id);
    sqlite3_bind_int64(events.get(), 2, options_.chunk_events);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(events.get())) == SQLITE_ROW) {
      ++read_events;
      last_id = sqlite3_column_int64(events.get(), 0);
      if (sqlite3_column_type(events.get(), 1) != SQLITE_NULL) {
        entries.push_back({Text(events.get(), 1), last_id});
      }
      last_hash = Blob(events.get(), 2);  // the bytes, whether BLOB or (not migrated) hex text
    }
    if (rc != SQLITE_DONE) return Error(database_, "read the events to index");
    return base::Status::Ok();
  });
  if (!read_status.ok()) return read_status;
  if (read_events == 0 && !rebuild) {
    std::lock_guard<std::mutex> lock(mutex_);
    indexed_through_ = through_id;
    return std::int64_t{0};
  }
  // In key order: neighbouring entries share pages, so each page is written once per chunk.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.user_id != b.user_id ? a.user_id < b.user_id : a.event_id < b.event_id;
  });
  base::Status write_status = InTransaction(index_, "BEGIN IMMEDIATE", [&]() -> base::Status {
    if (rebuild &&
        sqlite3_exec(index_, "DELETE FROM user_events", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error(index_, "clear the index");
    }
    Statement insert(index_,
                     "INSERT OR IGNORE INTO user_events (user_id, event_id) VALUES (?1, ?2)");
    if (!insert.ok()) return Error(index_, "prepare the index insert");
    for (const Entry& entry : entries) {
      sqlite3_bind_text(insert.get(), 1, entry.user_id.data(),
                        static_cast<int>(entry.user_id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert.get(), 2, entry.event_id);
      if (sqlite3_step(insert.get()) != SQLITE_DONE) return Error(index_, "insert into the index");
      sqlite3_reset(insert.get());
    }
    Statement position(index_,
                       "UPDATE indexed SET through_id = ?1, through_hash = ?2 WHERE id = 1");
    if (!position.ok()) return Error(index_, "prepare the index position");
    sqlite3_bind_int64(position.get(), 1, last_id);
    if (last_hash.empty()) {
      sqlite3_bind_null(position.get(), 2);
    } else {
      sqlite3_bind_blob(position.get(), 2, last_hash.data(), static_cast<int>(last_hash.size()),
                        SQLITE_STATIC);
    }
    if (sqlite3_step(position.get()) != SQLITE_DONE) return Error(index_, "save the position");
    return base::Status::Ok();
  });
  if (!write_status.ok()) return write_status;
  std::lock_guard<std::mutex> lock(mutex_);
  indexed_through_ = last_id;
  if (rebuild) ++rebuilds_;
  return read_events;
}

std::int64_t AuditIndexer::indexed_through() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return indexed_through_;
}

std::uint64_t AuditIndexer::rebuilds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rebuilds_;
}

std::uint64_t AuditIndexer::errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

}  // namespace fs::audit
