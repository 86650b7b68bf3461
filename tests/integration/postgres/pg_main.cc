// Entry point of postgres_tests: starts one real PostgreSQL 15 server for the whole binary
// (a missing or failing server fails every test, as a missing server must fail CI).
#include <gtest/gtest.h>

#include <cctype>
#include <memory>

#include "pg_environment.h"

namespace fs::itest {
namespace {

std::unique_ptr<PostgresServer> g_server;
std::string g_database;
int g_database_count = 0;

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    g_server = PostgresServer::Create(error);
    ASSERT_NE(g_server, nullptr) << error;
  }
  void TearDown() override { g_server.reset(); }
};

}  // namespace

PostgresServer& TestPostgres() { return *g_server; }

std::string FreshDatabaseUrl() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "t" + std::to_string(++g_database_count) + "_";
  for (const char c : std::string(info->name())) {
    name += std::isalnum(static_cast<unsigned char>(c)) != 0
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '_';
  }
  name = name.substr(0, 60);
  EXPECT_TRUE(g_server->CreateDatabase(name));
  g_database = name;
  return g_server->Url(name);
}

const std::string& CurrentDatabase() { return g_database; }

std::string QueryCurrentDatabase(const std::string& sql) {
  std::string value;
  EXPECT_TRUE(g_server->Query(g_database, sql, value)) << sql;
  return value;
}

}  // namespace fs::itest

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new fs::itest::PostgresEnvironment());
  return RUN_ALL_TESTS();
}
