// The one SQLite helper set of the code base: owning handles, one error mapping, statement
// use (reset on exit), parameter binding, stepping and column access. Used by the store, its
// outbox and checkpointer connections, and the audit readers and indexer, so every SQLite
// failure maps to the same Status code wherever it happens.
//
// Error mapping (the code tells the caller its next step):
//   SQLITE_CONSTRAINT                          -> kInternal (a guard refused a writer bug)
//   SQLITE_BUSY, LOCKED, FULL, NOMEM           -> kUnavailable (rolled back; retry later)
//   SQLITE_IOERR*, CORRUPT, NOTADB             -> kDataLoss (the file is in doubt)
//   SQLITE_CANTOPEN, PERM, READONLY            -> kFailedPrecondition while opening, else
//                                                 kDataLoss (the file went away)
//   anything else                              -> kDataLoss for COMMIT, else kInternal
//
// Thread-safety: the helpers hold no state; a connection and its statements are used by one
// thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "store/sqlite/sqlite_handles.h"

namespace fs::store::sqlite {

// Where a failure happened: decides the code of the failures the table above leaves open.
enum class Stage : std::uint8_t { kOpen, kRead, kApply, kCommit };

// "context: detail (SQLite's text for rc)" with the code of the mapping above.
base::Status ErrorFromCode(int rc, std::string_view detail, Stage stage, std::string_view context);
// As ErrorFromCode with the connection's last message.
base::Status ErrorFrom(int rc, sqlite3* db, Stage stage, std::string_view context);
// As ErrorFrom with the connection's last (extended) result code.
base::Status LastError(sqlite3* db, Stage stage, std::string_view context);
// `status` with `prefix` before its message.
base::Status WithPrefix(const base::Status& status, const std::string& prefix);

// Opens `path` with `flags` (| NOMUTEX: one thread at a time uses a connection), extended
// result codes on and the busy timeout set. kFailedPrecondition with SQLite's reason when the
// file cannot be opened.
base::Result<DatabaseHandle> OpenConnection(const std::string& path, int flags,
                                            int busy_timeout_ms);

// Prepares `sql` (flags: SQLITE_PREPARE_PERSISTENT for a statement cached for the
// connection's life, 0 otherwise).
base::Result<StatementHandle> Prepare(sqlite3* db, std::string_view sql, unsigned int flags,
                                      Stage stage);

// Runs one or more statements that return nothing the caller needs.
base::Status Exec(sqlite3* db, const char* sql, Stage stage, std::string_view context);

// The first column of the first row of `sql` (a PRAGMA or an aggregate).
base::Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, Stage stage);
base::Result<std::string> QueryText(sqlite3* db, std::string_view sql, Stage stage);

// Resets a statement when its use ends, so a cached statement never keeps a read snapshot
// open or carries bindings into its next use.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* statement) : statement_(statement) {}
  ~StatementUse() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  sqlite3_stmt* statement_;
};

// Binds parameters 1, 2, 3... in order and remembers the first failure. Text and blobs are
// bound without a copy: the caller's value must outlive the statement's step.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* statement) : statement_(statement) {}

  Binder& Text(std::string_view value) { return Bytes(value, BytesKind::kText); }
  Binder& Blob(std::string_view value) { return Bytes(value, BytesKind::kBlob); }
  Binder& Int64(std::int64_t value);
  Binder& Null();
  Binder& TimeMs(base::Time value) { return Int64(base::ToMillis(value)); }
  Binder& OptionalTimeMs(const std::optional<base::Time>& value) {
    return value ? TimeMs(*value) : Null();
  }
  // An empty string is bound as NULL (a column that is NULL when unset).
  Binder& NullableText(const std::string& value) { return value.empty() ? Null() : Text(value); }
  Binder& OptionalText(const std::optional<std::string>& value) {
    return value ? Text(*value) : Null();
  }
  int rc() const { return rc_; }

 private:
  enum class BytesKind : std::uint8_t { kText, kBlob };
  Binder& Bytes(std::string_view value, BytesKind kind);

  sqlite3_stmt* statement_;
  int index_ = 0;
  int rc_ = SQLITE_OK;
};

// Steps a bound write statement to completion. REQUIRES: a StatementUse guards `statement`.
base::Status StepWrite(sqlite3* db, sqlite3_stmt* statement, const Binder& binder,
                       std::string_view context);

// Runs a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK); SQLite's result.
int StepControl(sqlite3_stmt* statement);

// Steps `statement` through all its rows, calling `on_row(statement)` (returning Status) for
// each; stops at the first error.
template <typename OnRow>
base::Status ForEachRow(sqlite3* db, sqlite3_stmt* statement, std::string_view context,
                        OnRow&& on_row) {
  for (;;) {
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_DONE) return base::Status::Ok();
    if (rc != SQLITE_ROW) return ErrorFrom(rc, db, Stage::kRead, context);
    FS_RETURN_IF_ERROR(on_row(statement));
  }
}

// Steps `statement` to its single row. kInternal when it returns none.
base::Status StepRow(sqlite3* db, sqlite3_stmt* statement, std::string_view context);

// Column access. Text of a NULL is empty; a BLOB view is valid until the next step.
std::string ColumnText(sqlite3_stmt* row, int column);
std::optional<std::string> ColumnOptionalText(sqlite3_stmt* row, int column);
std::string_view ColumnBlob(sqlite3_stmt* row, int column);
inline std::int64_t ColumnInt64(sqlite3_stmt* row, int column) {
  return static_cast<std::int64_t>(sqlite3_column_int64(row, column));
}
inline bool ColumnIsNull(sqlite3_stmt* row, int column) {
  return sqlite3_column_type(row, column) == SQLITE_NULL;
}
inline base::Time ColumnTime(sqlite3_stmt* row, int column) {
  return base::TimeFromMillis(ColumnInt64(row, column));
}
std::optional<base::Time> ColumnOptionalTime(sqlite3_stmt* row, int column);

}  // namespace fs::store::sqlite
