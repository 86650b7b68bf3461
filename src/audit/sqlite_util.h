// Small SQLite helpers shared by the audit module's readers (audit_reader.cc, audit_index.cc):
// a prepared statement that finalizes itself, error mapping, column access.
// Internal to src/audit. Thread-safety: as the connection they use.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace fs::audit::sqlite_util {

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr);
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK && statement_ != nullptr; }
  sqlite3_stmt* get() const { return statement_; }
  void BindText(int index, const std::string& value) {
    sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()),
                      SQLITE_TRANSIENT);
  }
  void BindInt64(int index, std::int64_t value) { sqlite3_bind_int64(statement_, index, value); }

 private:
  sqlite3_stmt* statement_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// `what` and SQLite's message; kUnavailable for a lock (retry later), else kInternal.
inline base::Status SqlError(sqlite3* db, std::string_view what) {
  const int rc = sqlite3_errcode(db) & 0xff;
  std::string message(what);
  message += ": ";
  message += sqlite3_errmsg(db);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return base::Unavailable(std::move(message));
  return base::Internal(std::move(message));
}

inline std::optional<std::string> OptionalText(sqlite3_stmt* row, int column) {
  if (sqlite3_column_type(row, column) == SQLITE_NULL) return std::nullopt;
  const unsigned char* text = sqlite3_column_text(row, column);
  const int size = sqlite3_column_bytes(row, column);
  if (text == nullptr || size <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

inline std::string Text(sqlite3_stmt* row, int column) {
  return OptionalText(row, column).value_or(std::string());
}

// Opens `path` with `flags` (| NOMUTEX: one thread at a time uses a connection) and the busy
// timeout set; kFailedPrecondition with SQLite's reason when it cannot.
inline base::Result<sqlite3*> OpenConnection(const std::string& path, int flags,
                                             int busy_timeout_ms) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message =
        "open " + path + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return base::FailedPrecondition(std::move(message));
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return db;
}

// A BLOB column's bytes (a TEXT column's too: SQLite hands them over alike).
inline std::string Blob(sqlite3_stmt* row, int column) {
  const void* bytes = sqlite3_column_blob(row, column);
  const int size = sqlite3_column_bytes(row, column);
  if (bytes == nullptr || size <= 0) return {};
  return {static_cast<const char*>(bytes), static_cast<std::size_t>(size)};
}

}  // namespace fs::audit::sqlite_util
