// The PostgreSQL server shared by every test of postgres_tests (started once by the gtest
// Environment in pg_main.cc) and a fresh database per test.
// Thread-safety: call from the test's main thread.
#pragma once

#include <string>

#include "support/postgres_server.h"

namespace fs::itest {

PostgresServer& TestPostgres();
// Creates an empty database named after the current test and returns its URL.
std::string FreshDatabaseUrl();
// The name of the database FreshDatabaseUrl() made last.
const std::string& CurrentDatabase();
// The first column of the first row of `sql` run on CurrentDatabase(); a failed query fails
// the test (EXPECT) and returns "".
std::string QueryCurrentDatabase(const std::string& sql);

// The books, as queries that return "t" / "0" when they hold. Counters equal the rows: held and
// sold of every sale against its reservation rows.
inline constexpr char kCountersEqualRows[] =
    "SELECT bool_and(s.held = coalesce((SELECT sum(quantity) FROM reservations r"
    " WHERE r.sku_id = s.sku_id AND r.status IN (1, 2)), 0) AND s.sold = coalesce((SELECT"
    " sum(quantity) FROM reservations r WHERE r.sku_id = s.sku_id AND r.status = 3), 0))"
    " FROM skus s";
// Users holding or owning more than their sale's per-user limit.
inline constexpr char kUsersOverLimit[] =
    "SELECT count(*) FROM (SELECT r.user_id FROM reservations r JOIN skus s USING (sku_id)"
    " WHERE r.status IN (1, 2, 3) GROUP BY r.sku_id, r.user_id, s.per_user_limit"
    " HAVING sum(r.quantity) > s.per_user_limit) over_limit";

}  // namespace fs::itest
