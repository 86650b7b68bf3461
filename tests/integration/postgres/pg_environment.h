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

}  // namespace fs::itest
