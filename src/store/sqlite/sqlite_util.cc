#include "store/sqlite/sqlite_util.h"

#include <climits>
#include <cstddef>
#include <utility>

#include "store/store.h"

namespace fs::store::sqlite {

void DatabaseCloser::operator()(sqlite3* db) const {
  // close_v2 never fails for a valid handle; every statement is finalized before this runs.
  sqlite3_close_v2(db);
}

void StatementFinalizer::operator()(sqlite3_stmt* statement) const {
  // The return value repeats the statement's last step error, already reported.
  sqlite3_finalize(statement);
}

namespace {

// A constraint error the writer did not predict is a data error (one command's rows); the
// guards (zero oversell, the per-user limit: CHECKs named in store::kGuardConstraints, and the
// triggers' RAISE) are writer bugs.
base::Status ConstraintError(int rc, std::string_view detail, std::string message) {
  if (rc == SQLITE_CONSTRAINT_TRIGGER) return base::Internal(std::move(message));
  for (const std::string_view guard : store::kGuardConstraints) {
    if (detail.find(guard) != std::string_view::npos) return base::Internal(std::move(message));
  }
  return base::InvalidArgument(std::move(message));
}

}  // namespace

base::Status ErrorFromCode(int rc, std::string_view detail, Stage stage, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += detail;
  message += " (";
  message += sqlite3_errstr(rc);
  message += ")";
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return ConstraintError(rc, detail, std::move(message));
    case SQLITE_TOOBIG:
      return base::InvalidArgument(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return base::Unavailable(std::move(message));
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return base::DataLoss(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      if (stage == Stage::kOpen) return base::FailedPrecondition(std::move(message));
      return base::DataLoss(std::move(message));  // the file went away under the connection
    default:
      break;
  }
  if (stage == Stage::kCommit) return base::DataLoss(std::move(message));
  return base::Internal(std::move(message));
}

base::Status ErrorFrom(int rc, sqlite3* db, Stage stage, std::string_view context) {
  return ErrorFromCode(rc, sqlite3_errmsg(db), stage, context);
}

base::Status LastError(sqlite3* db, Stage stage, std::string_view context) {
  return ErrorFrom(sqlite3_extended_errcode(db), db, stage, context);
}

base::Status WithPrefix(const base::Status& status, const std::string& prefix) {
  return base::Status(status.code(), prefix + status.message());
}

base::Result<DatabaseHandle> OpenConnection(const std::string& path, int flags,
                                            int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DatabaseHandle db(raw);  // closed on the early return below
  if (rc != SQLITE_OK) {
    return base::FailedPrecondition("open " + path + ": " +
                                    (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  return db;
}

base::Result<StatementHandle> Prepare(sqlite3* db, std::string_view sql, unsigned int flags,
                                      Stage stage) {
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  StatementHandle statement(raw);
  if (rc != SQLITE_OK) return ErrorFrom(rc, db, stage, std::string("prepare ") + std::string(sql));
  if (statement == nullptr) {
    return base::Internal("prepare produced no statement: " + std::string(sql));
  }
  return statement;
}

base::Status Exec(sqlite3* db, const char* sql, Stage stage, std::string_view context) {
  char* error_text = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error_text);
  if (rc == SQLITE_OK) return base::Status::Ok();
  const std::string detail = error_text != nullptr ? error_text : sqlite3_errmsg(db);
  sqlite3_free(error_text);
  return ErrorFromCode(rc, detail, stage, context);
}

namespace {

// `sql` prepared and stepped to its first row.
base::Result<StatementHandle> StepSingleRow(sqlite3* db, std::string_view sql, Stage stage) {
  auto statement = Prepare(db, sql, 0, stage);
  if (!statement) return statement.error();
  const int rc = sqlite3_step(statement->get());
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) return base::Internal(std::string(sql) + ": returned no row");
    return ErrorFrom(rc, db, stage, sql);
  }
  return statement;
}

}  // namespace

base::Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, Stage stage) {
  auto statement = StepSingleRow(db, sql, stage);
  if (!statement) return statement.error();
  return ColumnInt64(statement->get(), 0);
}

base::Result<std::string> QueryText(sqlite3* db, std::string_view sql, Stage stage) {
  auto statement = StepSingleRow(db, sql, stage);
  if (!statement) return statement.error();
  return ColumnText(statement->get(), 0);
}

Binder& Binder::Bytes(std::string_view value, BytesKind kind) {
  ++index_;
  if (rc_ != SQLITE_OK) return *this;
  if (value.size() > static_cast<std::size_t>(INT_MAX)) {
    rc_ = SQLITE_TOOBIG;
    return *this;
  }
  // A null pointer would bind SQL NULL; an empty string must stay an empty string. The
  // caller's string outlives the step, so SQLite need not copy it (destructor = static).
  const char* data = value.empty() ? "" : value.data();
  const int size = static_cast<int>(value.size());
  rc_ = kind == BytesKind::kText ? sqlite3_bind_text(statement_, index_, data, size, nullptr)
                                 : sqlite3_bind_blob(statement_, index_, data, size, nullptr);
  return *this;
}

Binder& Binder::Int64(std::int64_t value) {
  ++index_;
  if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(statement_, index_, value);
  return *this;
}

Binder& Binder::Null() {
  ++index_;
  if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_null(statement_, index_);
  return *this;
}

base::Status StepWrite(sqlite3* db, sqlite3_stmt* statement, const Binder& binder,
                       std::string_view context) {
  if (binder.rc() != SQLITE_OK) return ErrorFrom(binder.rc(), db, Stage::kApply, context);
  const int rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE) return ErrorFrom(rc, db, Stage::kApply, context);
  return base::Status::Ok();
}

int StepControl(sqlite3_stmt* statement) {
  StatementUse use(statement);
  return sqlite3_step(statement);
}

base::Status StepRow(sqlite3* db, sqlite3_stmt* statement, std::string_view context) {
  const int rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW) return base::Status::Ok();
  if (rc == SQLITE_DONE) return base::Internal(std::string(context) + ": returned no row");
  return ErrorFrom(rc, db, Stage::kRead, context);
}

std::string ColumnText(sqlite3_stmt* row, int column) {
  const unsigned char* text = sqlite3_column_text(row, column);
  const int size = sqlite3_column_bytes(row, column);
  if (text == nullptr || size <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::optional<std::string> ColumnOptionalText(sqlite3_stmt* row, int column) {
  if (ColumnIsNull(row, column)) return std::nullopt;
  return ColumnText(row, column);
}

std::string_view ColumnBlob(sqlite3_stmt* row, int column) {
  const void* bytes = sqlite3_column_blob(row, column);
  const int size = sqlite3_column_bytes(row, column);
  if (bytes == nullptr || size <= 0) return {};
  return {static_cast<const char*>(bytes), static_cast<std::size_t>(size)};
}

std::optional<base::Time> ColumnOptionalTime(sqlite3_stmt* row, int column) {
  if (ColumnIsNull(row, column)) return std::nullopt;
  return ColumnTime(row, column);
}

}  // namespace fs::store::sqlite
