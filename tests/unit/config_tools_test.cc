// Goal: the offline tools (`audit verify`, `audit export`, `reconcile`, `report`) take --store and
// FLASHSALE_STORE exactly as `serve` does. A postgres:// URL selects the cluster's database and
// wins over FLASHSALE_DATA_DIR (a cluster node's environment sets both); "sqlite" or nothing
// reads DATA_DIR/flashsale.db; --data-dir typed together with a postgres:// store is refused
// with exit 2 (it names a second database the tool would not read); any other store is refused
// with exit 2 without echoing its password.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "app/config.h"

namespace fs::app {
namespace {

constexpr const char* kUrl = "postgres://app:secret@db:5432/flashsale";

CommandLine Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "flashsale");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

class ConfigToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"FLASHSALE_STORE", "FLASHSALE_DATA_DIR"}) {
      ASSERT_EQ(std::getenv(name), nullptr) << name << " is set in the test environment";
    }
  }
  void TearDown() override {
    unsetenv("FLASHSALE_STORE");
    unsetenv("FLASHSALE_DATA_DIR");
  }
};

const std::vector<std::vector<std::string>>& Tools() {
  static const std::vector<std::vector<std::string>> tools = {
      {"audit", "verify"}, {"audit", "export"}, {"reconcile"}, {"report"}};
  return tools;
}

TEST_F(ConfigToolsTest, EveryToolTakesAPostgresStore) {
  const CommandLine::Action actions[] = {
      CommandLine::Action::kAuditVerify, CommandLine::Action::kAuditExport,
      CommandLine::Action::kReconcile, CommandLine::Action::kReport};
  for (std::size_t i = 0; i < Tools().size(); ++i) {
    auto args = Tools()[i];
    args.insert(args.end(), {"--store", kUrl});
    const CommandLine parsed = Parse(args);
    ASSERT_EQ(parsed.action, actions[i]) << args[0] << ": " << parsed.err;
    EXPECT_EQ(parsed.tool.store_url, kUrl);
  }
  // postgresql:// as serve takes it, and the tool's own options still parse beside --store.
  CommandLine parsed = Parse({"reconcile", "--store", "postgresql://db/x", "--sku", "tee"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kReconcile) << parsed.err;
  EXPECT_EQ(parsed.tool.store_url, "postgresql://db/x");
  EXPECT_EQ(parsed.tool.sku_id, "tee");
  parsed = Parse({"audit", "export", "--store", kUrl, "--output", "/o.jsonl"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kAuditExport) << parsed.err;
  EXPECT_EQ(parsed.tool.output, "/o.jsonl");
}

TEST_F(ConfigToolsTest, SqliteOrNothingReadsTheDataDirectory) {
  for (const auto& tool : Tools()) {
    auto args = tool;
    args.insert(args.end(), {"--data-dir", "/d"});
    CommandLine parsed = Parse(args);
    EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
    EXPECT_EQ(parsed.tool.store_url, "");
    EXPECT_EQ(parsed.tool.data_dir, "/d");
    args.insert(args.end(), {"--store", "sqlite"});
    parsed = Parse(args);
    EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
    EXPECT_EQ(parsed.tool.store_url, "");
    EXPECT_EQ(parsed.tool.data_dir, "/d");
  }
  EXPECT_EQ(Parse({"audit", "verify"}).tool.data_dir, "data");
}

TEST_F(ConfigToolsTest, ReadsTheSameVariablesAsServe) {
  setenv("FLASHSALE_STORE", kUrl, 1);
  CommandLine parsed = Parse({"audit", "verify"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kAuditVerify) << parsed.err;
  EXPECT_EQ(parsed.tool.store_url, kUrl);
  // A cluster node's environment also sets FLASHSALE_DATA_DIR: the store still wins.
  setenv("FLASHSALE_DATA_DIR", "/env", 1);
  parsed = Parse({"reconcile"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kReconcile) << parsed.err;
  EXPECT_EQ(parsed.tool.store_url, kUrl);
  // The flag wins over the variable: --store sqlite reads the data directory of the variable.
  parsed = Parse({"audit", "export", "--store", "sqlite"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kAuditExport) << parsed.err;
  EXPECT_EQ(parsed.tool.store_url, "");
  EXPECT_EQ(parsed.tool.data_dir, "/env");
  unsetenv("FLASHSALE_STORE");
  parsed = Parse({"audit", "verify"});
  EXPECT_EQ(parsed.tool.store_url, "");
  EXPECT_EQ(parsed.tool.data_dir, "/env");
  parsed = Parse({"audit", "verify", "--data-dir", "/flag"});
  EXPECT_EQ(parsed.tool.data_dir, "/flag");
}

TEST_F(ConfigToolsTest, RefusesADataDirectoryBesideAPostgresStore) {
  for (const auto& tool : Tools()) {
    auto args = tool;
    args.insert(args.end(), {"--data-dir", "/d", "--store", kUrl});
    const CommandLine parsed = Parse(args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit) << tool[0];
    EXPECT_EQ(parsed.exit_code, kExitBadConfig) << tool[0];
    EXPECT_NE(parsed.err.find("--data-dir"), std::string::npos) << parsed.err;
    EXPECT_NE(parsed.err.find("--store"), std::string::npos) << parsed.err;
    EXPECT_EQ(parsed.err.find("secret"), std::string::npos) << parsed.err;
  }
  // Also when the store comes from the variable: the typed --data-dir would be ignored.
  setenv("FLASHSALE_STORE", kUrl, 1);
  const CommandLine parsed = Parse({"audit", "verify", "--data-dir", "/d"});
  EXPECT_EQ(parsed.exit_code, kExitBadConfig) << parsed.err;
}

TEST_F(ConfigToolsTest, RefusesOtherStoresWithoutEchoingThePassword) {
  for (const std::string bad : {"mysql://app:secret@db/x", "redis://x", "postgres", "/var/db"}) {
    for (const auto& tool : Tools()) {
      auto args = tool;
      args.insert(args.end(), {"--store", bad});
      const CommandLine parsed = Parse(args);
      EXPECT_EQ(parsed.action, CommandLine::Action::kExit) << bad;
      EXPECT_EQ(parsed.exit_code, kExitBadConfig) << bad;
      EXPECT_NE(parsed.err.find("--store"), std::string::npos) << parsed.err;
      EXPECT_EQ(parsed.err.find("secret"), std::string::npos) << parsed.err;
    }
  }
  setenv("FLASHSALE_STORE", "mysql://app:secret@db/x", 1);
  EXPECT_EQ(Parse({"reconcile"}).exit_code, kExitBadConfig);
}

}  // namespace
}  // namespace fs::app
