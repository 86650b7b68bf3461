// Read-only access to the server's SQLite file (DATA_DIR/flashsale.db) so tests can compare
// what the API said with the rows that are actually durable. It relies only on the documented
// columns: reservations(reservation_id, sku_id, user_id, quantity, status, expires_at_ms) with
// status 1=RESERVED 2=CHECKOUT_PENDING 3=PURCHASED 4=EXPIRED 5=RELEASED, and
// skus(sku_id, total_stock, held, sold).
//
// Open it while the server runs (WAL lets a reader see the last committed transaction) or
// after a clean stop. Every multi-row read runs in one read transaction: one snapshot.
// Thread-safety: one Database per thread.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct sqlite3;

namespace fs::itest {

inline constexpr int kStatusReserved = 1;
inline constexpr int kStatusCheckoutPending = 2;
inline constexpr int kStatusPurchased = 3;
inline constexpr int kStatusExpired = 4;
inline constexpr int kStatusReleased = 5;

struct ReservationRow {
  std::string reservation_id;
  std::string sku_id;
  std::string user_id;
  std::int64_t quantity = 0;
  int status = 0;
  std::int64_t expires_at_ms = 0;
};

// One SKU's counters and its reservation rows, read in one snapshot.
struct SkuSnapshot {
  bool sku_found = false;
  std::int64_t total_stock = 0;                // skus.total_stock
  std::int64_t held = 0;                       // skus.held
  std::int64_t sold = 0;                       // skus.sold
  std::map<std::string, ReservationRow> rows;  // by reservation_id

  std::int64_t RowCount(int status) const;
  // Sum of quantities of rows with `status`.
  std::int64_t QuantitySum(int status) const;
  // Units per user that count toward the per-user limit (RESERVED, CHECKOUT_PENDING, PURCHASED).
  std::map<std::string, std::int64_t> UnitsByUser() const;
};

// A writable connection to the database at `path` runs `sql` (several statements allowed):
// what an attacker with the file can do. Fails with the statement and SQLite's message.
::testing::AssertionResult ExecSql(const std::filesystem::path& path, const std::string& sql);

class Database {
 public:
  static base::Result<std::unique_ptr<Database>> OpenReadOnly(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  base::Result<SkuSnapshot> ReadSku(std::string_view sku_id);
  // The first column of the first row of `sql` as an integer (e.g. a COUNT(*)).
  base::Result<std::int64_t> QueryInt(std::string_view sql);

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  base::Status Execute(std::string_view sql);

  sqlite3* db_;
};

}  // namespace fs::itest
