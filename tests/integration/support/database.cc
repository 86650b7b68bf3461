#include "support/database.h"

#include <sqlite3.h>

namespace fs::itest {
namespace {

// Readers wait this long for a writer's checkpoint or recovery instead of failing at once.
constexpr int kBusyTimeoutMs = 5'000;

// Owns a prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) {
    result_ =
        sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement_, nullptr);
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return result_ == SQLITE_OK && statement_ != nullptr; }
  sqlite3_stmt* get() const { return statement_; }

 private:
  sqlite3_stmt* statement_ = nullptr;
  int result_ = SQLITE_ERROR;
};

base::Status Error(sqlite3* db, std::string_view what) {
  return base::Internal(std::string(what) + ": " + sqlite3_errmsg(db));
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
}

}  // namespace

::testing::AssertionResult ExecSql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return ::testing::AssertionFailure() << "cannot open " << path;
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return ::testing::AssertionFailure() << sql << ": " << message;
  return ::testing::AssertionSuccess();
}

std::int64_t SkuSnapshot::RowCount(int status) const {
  std::int64_t count = 0;
  for (const auto& [id, row] : rows) {
    if (row.status == status) ++count;
  }
  return count;
}

std::int64_t SkuSnapshot::QuantitySum(int status) const {
  std::int64_t sum = 0;
  for (const auto& [id, row] : rows) {
    if (row.status == status) sum += row.quantity;
  }
  return sum;
}

std::map<std::string, std::int64_t> SkuSnapshot::UnitsByUser() const {
  std::map<std::string, std::int64_t> units;
  for (const auto& [id, row] : rows) {
    const bool counts = row.status == kStatusReserved || row.status == kStatusCheckoutPending ||
                        row.status == kStatusPurchased;
    if (counts) units[row.user_id] += row.quantity;
  }
  return units;
}

base::Result<std::unique_ptr<Database>> Database::OpenReadOnly(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return base::NotFound("no database at " + path.string());
  sqlite3* db = nullptr;
  const int result = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (result != SQLITE_OK) {
    base::Status status = Error(db, "open " + path.string());
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() { sqlite3_close(db_); }

base::Status Database::Execute(std::string_view sql) {
  Statement statement(db_, sql);
  if (!statement.prepared()) return Error(db_, "prepare " + std::string(sql));
  const int result = sqlite3_step(statement.get());
  if (result != SQLITE_DONE && result != SQLITE_ROW) return Error(db_, std::string(sql));
  return base::Status::Ok();
}

base::Result<std::int64_t> Database::QueryInt(std::string_view sql) {
  Statement statement(db_, sql);
  if (!statement.prepared()) return Error(db_, "prepare " + std::string(sql));
  if (sqlite3_step(statement.get()) != SQLITE_ROW) return Error(db_, "no row: " + std::string(sql));
  return static_cast<std::int64_t>(sqlite3_column_int64(statement.get(), 0));
}

base::Result<SkuSnapshot> Database::ReadSku(std::string_view sku_id) {
  FS_RETURN_IF_ERROR(Execute("BEGIN"));
  SkuSnapshot snapshot;
  base::Status status = base::Status::Ok();
  {
    Statement sku(db_, "SELECT total_stock, held, sold FROM skus WHERE sku_id = ?1");
    if (!sku.prepared()) {
      status = Error(db_, "prepare skus query");
    } else {
      sqlite3_bind_text(sku.get(), 1, sku_id.data(), static_cast<int>(sku_id.size()),
                        SQLITE_TRANSIENT);
      const int step = sqlite3_step(sku.get());
      if (step == SQLITE_ROW) {
        snapshot.sku_found = true;
        snapshot.total_stock = sqlite3_column_int64(sku.get(), 0);
        snapshot.held = sqlite3_column_int64(sku.get(), 1);
        snapshot.sold = sqlite3_column_int64(sku.get(), 2);
      } else if (step != SQLITE_DONE) {
        status = Error(db_, "read skus");
      }
    }
  }
  if (status.ok()) {
    Statement rows(db_,
                   "SELECT reservation_id, sku_id, user_id, quantity, status, expires_at_ms "
                   "FROM reservations WHERE sku_id = ?1");
    if (!rows.prepared()) {
      status = Error(db_, "prepare reservations query");
    } else {
      sqlite3_bind_text(rows.get(), 1, sku_id.data(), static_cast<int>(sku_id.size()),
                        SQLITE_TRANSIENT);
      int step = SQLITE_ROW;
      while ((step = sqlite3_step(rows.get())) == SQLITE_ROW) {
        ReservationRow row;
        row.reservation_id = ColumnText(rows.get(), 0);
        row.sku_id = ColumnText(rows.get(), 1);
        row.user_id = ColumnText(rows.get(), 2);
        row.quantity = sqlite3_column_int64(rows.get(), 3);
        row.status = sqlite3_column_int(rows.get(), 4);
        row.expires_at_ms = sqlite3_column_int64(rows.get(), 5);
        snapshot.rows.emplace(row.reservation_id, std::move(row));
      }
      if (step != SQLITE_DONE) status = Error(db_, "read reservations");
    }
  }
  const base::Status ended = Execute("COMMIT");
  if (!status.ok()) return status;
  if (!ended.ok()) return ended;
  return snapshot;
}

}  // namespace fs::itest
